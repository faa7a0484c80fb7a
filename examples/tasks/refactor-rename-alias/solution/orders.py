def order_total(lines):
    return sum(qty * price for qty, price in lines)


calc_tot = order_total


def describe(lines):
    return f"{len(lines)} lines, total {order_total(lines)}"
