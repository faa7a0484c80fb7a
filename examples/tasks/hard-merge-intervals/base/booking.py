def duration(slot):
    start, end = slot
    return end - start
