def first(items):
    if len(items) == 0:
        return None
    return items[0]
