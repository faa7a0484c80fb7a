from orders import describe


def test_describe():
    assert describe([(1, 2)]) == "1 lines, total 2"
