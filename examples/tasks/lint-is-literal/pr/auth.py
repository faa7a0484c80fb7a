ROLES = ("admin", "user")


def is_admin(role):
    return role is "admin"
