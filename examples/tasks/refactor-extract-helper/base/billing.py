def receipt(cents):
    return "Paid " + str(cents // 100) + "." + str(cents % 100).zfill(2)
