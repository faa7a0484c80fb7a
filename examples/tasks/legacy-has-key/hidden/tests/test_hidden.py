from inventory import Inventory


def test_report():
    assert Inventory({"bolt": 4}).report(["bolt", "nut"]) == "bolt: 4\nnut: 0"
