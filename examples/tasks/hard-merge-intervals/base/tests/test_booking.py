from booking import duration


def test_duration():
    assert duration((1, 4)) == 3
