from feed import last


def test_last():
    assert last([1, 2, 3, 4], 2) == [3, 4]
    assert last([1, 2, 3, 4], 1) == [4]
