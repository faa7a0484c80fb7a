def normalize(tag):
    return tag.strip().lower()


def with_tag(tag, tags=[]):
    tags.append(normalize(tag))
    return tags
