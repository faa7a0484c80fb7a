from contacts import full_name


def test_full_name():
    assert full_name({"first": "Ada", "last": "Lovelace"}) == "Ada Lovelace"
