SIZE = (64, 64)
