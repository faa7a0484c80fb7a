from feed import newest


def test_newest():
    assert newest([1, 2, 3]) == 3
