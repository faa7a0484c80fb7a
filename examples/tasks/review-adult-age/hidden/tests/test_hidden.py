from signup import may_sign_up


def test_eighteen_may_sign_up():
    assert may_sign_up(18)
    assert not may_sign_up(17)
