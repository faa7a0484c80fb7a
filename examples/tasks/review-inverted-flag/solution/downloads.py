BASE = "https://example.invalid/d/"


def download_link(user):
    if user["active"]:
        return BASE + user["id"]
    return None
