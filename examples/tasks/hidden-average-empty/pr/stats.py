def maximum(values):
    return max(values, default=0.0)


def average(values):
    return sum(values) / len(values)
