from index import find


def test_find():
    items = [1, 3, 5, 7, 9, 11]
    assert [find(items, x) for x in items] == [0, 1, 2, 3, 4, 5]
    assert find(items, 4) == -1
    assert find([], 1) == -1
