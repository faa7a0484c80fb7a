def clean(line):
    return line.strip()


def parse_setting(line):
    line = clean(line)
    if "=" not in line:
        return line, None
    key, _, value = line.partition("=")
    return key.strip(), value.strip()
