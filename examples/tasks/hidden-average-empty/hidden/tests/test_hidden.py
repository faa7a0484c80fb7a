from stats import average


def test_empty_day():
    assert average([]) == 0.0
