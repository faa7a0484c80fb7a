from billing import format_cents


def test_helper():
    assert format_cents(7) == "0.07"
    assert format_cents(100) == "1.00"
