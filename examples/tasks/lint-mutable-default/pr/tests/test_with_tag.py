from tags import with_tag


def test_with_tag():
    assert with_tag("X", ["a"]) == ["a", "x"]
