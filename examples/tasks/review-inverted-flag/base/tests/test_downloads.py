from downloads import BASE


def test_base():
    assert BASE.startswith("https://")
