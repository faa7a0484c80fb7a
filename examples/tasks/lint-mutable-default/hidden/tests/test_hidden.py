from tags import with_tag


def test_fresh_list_each_call():
    assert with_tag("a") == ["a"]
    assert with_tag("b") == ["b"]
