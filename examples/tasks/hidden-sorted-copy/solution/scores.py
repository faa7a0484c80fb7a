def best(scores):
    return max(scores)


def top(scores, n):
    return sorted(scores, reverse=True)[:n]
