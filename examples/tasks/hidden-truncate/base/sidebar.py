def label(name):
    return name.strip()
