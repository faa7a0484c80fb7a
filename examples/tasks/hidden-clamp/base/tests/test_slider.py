from slider import STEP


def test_step():
    assert STEP == 5
