def maximum(values):
    return max(values, default=0.0)


def average(values):
    if not values:
        return 0.0
    return sum(values) / len(values)
