from billing import invoice


def test_invoice():
    assert invoice(505) == "Due 5.05"
