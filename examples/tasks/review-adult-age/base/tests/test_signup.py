from signup import MIN_PASSWORD


def test_min_password():
    assert MIN_PASSWORD == 12
