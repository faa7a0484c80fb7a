from index import first


def test_first():
    assert first([4, 5]) == 4
