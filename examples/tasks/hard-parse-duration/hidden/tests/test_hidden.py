import pytest

from config import seconds


def test_valid():
    assert seconds("90s") == 90
    assert seconds("2h5s") == 7205


@pytest.mark.parametrize("text", ["", "5", "1x", "30m1h", "1h 30m", "abc"])
def test_invalid(text):
    with pytest.raises(ValueError):
        seconds(text)
