STEP = 5


def clamp(value, low, high):
    if value > high:
        return high
    return value
