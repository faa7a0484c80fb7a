def calc_tot(lines):
    return sum(qty * price for qty, price in lines)


def describe(lines):
    return f"{len(lines)} lines, total {calc_tot(lines)}"
