from config import DEFAULT_TIMEOUT


def test_default():
    assert DEFAULT_TIMEOUT == 30
