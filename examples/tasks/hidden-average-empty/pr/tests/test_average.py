from stats import average


def test_average():
    assert average([1.0, 2.0, 3.0]) == 2.0
