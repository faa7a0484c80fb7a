from slider import clamp


def test_range():
    assert clamp(-5, 0, 100) == 0
    assert clamp(50, 0, 100) == 50
    assert clamp(100, 0, 100) == 100
