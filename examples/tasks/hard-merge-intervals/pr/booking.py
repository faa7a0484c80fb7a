def duration(slot):
    start, end = slot
    return end - start


def merge(slots):
    merged = []
    for start, end in slots:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged
