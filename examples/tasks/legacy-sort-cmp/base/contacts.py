def full_name(contact):
    return "%s %s" % (contact["first"], contact["last"])
