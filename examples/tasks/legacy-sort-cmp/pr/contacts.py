def full_name(contact):
    return "%s %s" % (contact["first"], contact["last"])


def compare(a, b):
    if a["last"] != b["last"]:
        return -1 if a["last"] < b["last"] else 1
    if a["first"] != b["first"]:
        return -1 if a["first"] < b["first"] else 1
    return 0


def sort_contacts(contacts):
    return sorted(contacts, cmp=compare)
