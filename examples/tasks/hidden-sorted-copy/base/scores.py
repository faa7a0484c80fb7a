def best(scores):
    return max(scores)
