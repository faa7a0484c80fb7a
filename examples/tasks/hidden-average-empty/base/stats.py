def maximum(values):
    return max(values, default=0.0)
