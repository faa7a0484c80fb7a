from calendar_widget import MONTHS


def test_months():
    assert MONTHS == 12
