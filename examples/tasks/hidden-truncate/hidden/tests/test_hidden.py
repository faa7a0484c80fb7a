from sidebar import shorten


def test_width_is_a_limit():
    assert shorten("abcdefghij", 8) == "abcde..."
    assert len(shorten("x" * 50, 10)) == 10
    assert shorten("abcdefgh", 8) == "abcdefgh"
