ROLES = ("admin", "user")
