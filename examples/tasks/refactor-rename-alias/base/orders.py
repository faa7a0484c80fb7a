def calc_tot(lines):
    return sum(qty * price for qty, price in lines)
