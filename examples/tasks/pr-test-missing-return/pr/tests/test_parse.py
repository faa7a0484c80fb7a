from settings import parse_setting


def test_key_value():
    assert parse_setting("a = 1") == ("a", "1")


def test_flag():
    assert parse_setting("debug") == ("debug", None)
