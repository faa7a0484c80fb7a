def best(scores):
    return max(scores)


def top(scores, n):
    scores.sort(reverse=True)
    return scores[:n]
