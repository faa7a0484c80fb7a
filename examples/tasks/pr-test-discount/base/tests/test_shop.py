from shop import total


def test_total():
    assert total([1.5, 2.5]) == 4.0
