from stats import maximum


def test_maximum():
    assert maximum([1.0, 3.0]) == 3.0
