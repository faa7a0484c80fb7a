def normalize(tag):
    return tag.strip().lower()


def with_tag(tag, tags=None):
    tags = [] if tags is None else tags
    tags.append(normalize(tag))
    return tags
