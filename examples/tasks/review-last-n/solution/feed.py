def newest(events):
    return events[-1]


def last(events, n):
    return events[-n:]
