from sidebar import shorten


def test_short_text_unchanged():
    assert shorten("abc", 10) == "abc"
