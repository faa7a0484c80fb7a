from money import SYMBOLS


def test_symbols():
    assert SYMBOLS["USD"] == "$"
