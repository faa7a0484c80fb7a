def format_cents(cents):
    return str(cents // 100) + "." + str(cents % 100).zfill(2)


def receipt(cents):
    return "Paid " + format_cents(cents)


def invoice(cents):
    return "Due " + format_cents(cents)
