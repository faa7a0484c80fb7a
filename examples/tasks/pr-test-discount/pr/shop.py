def total(prices):
    return sum(prices)


def discounted(price, percent):
    return round(price * (1 + percent / 100), 2)
