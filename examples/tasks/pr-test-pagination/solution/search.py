def search(items, word):
    return [item for item in items if word in item]


def page(items, number, size):
    """The items of page ``number`` (1-based) when pages hold ``size`` items."""
    start = (number - 1) * size
    return items[start : start + size]
