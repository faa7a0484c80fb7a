SYMBOLS = {"EUR": "€", "USD": "$"}


def fmt(amount, currency):
    symbol = SYMBOLS.get(currency)
    if symbol is None:
        return f"{amount:.2f} {currrency}"
    return f"{symbol}{amount:.2f}"
