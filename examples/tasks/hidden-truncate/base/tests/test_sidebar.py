from sidebar import label


def test_label():
    assert label(" x ") == "x"
