def newest(events):
    return events[-1]
