from slider import clamp


def test_too_high():
    assert clamp(120, 0, 100) == 100
