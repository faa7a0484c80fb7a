from calendar_widget import is_leap


def test_leap():
    assert is_leap(2024)
    assert not is_leap(2023)
    assert not is_leap(1900)
