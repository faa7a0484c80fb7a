def first(items):
    if len(items) == 0:
        return None
    return items[0]


def find(sorted_items, wanted):
    lo = 0
    hi = len(sorted_items) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if sorted_items[mid] == wanted:
            return mid
        elif sorted_items[mid] < wanted:
            lo = mid + 1
        else:
            hi = mid - 1
    return -1
