def button(name):
    return {"name": name}
