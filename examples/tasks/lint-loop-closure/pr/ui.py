def button(name):
    return {"name": name}


def callbacks(names):
    result = []
    for name in names:
        result.append(lambda: name)
    return result
