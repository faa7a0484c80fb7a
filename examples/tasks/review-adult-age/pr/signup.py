MIN_PASSWORD = 12
ADULT = 18


def may_sign_up(age):
    return age > ADULT
