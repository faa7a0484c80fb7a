from inventory import Inventory


def test_names():
    assert Inventory({"b": 1, "a": 2}).names() == ["a", "b"]
