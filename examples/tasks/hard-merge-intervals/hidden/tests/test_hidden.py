from booking import merge


def test_unsorted_touching_and_contained():
    assert merge([(5, 6), (1, 3), (3, 4)]) == [(1, 4), (5, 6)]
    assert merge([(1, 10), (2, 3)]) == [(1, 10)]
    assert merge([]) == []
