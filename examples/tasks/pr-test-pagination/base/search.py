def search(items, word):
    return [item for item in items if word in item]
