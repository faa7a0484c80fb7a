from scores import top


def test_top_two():
    assert top([3, 9, 4], 2) == [9, 4]
