def receipt(cents):
    return "Paid " + str(cents // 100) + "." + str(cents % 100).zfill(2)


def invoice(cents):
    return "Due " + str(cents // 100) + "." + str(cents % 100).zfill(2)
