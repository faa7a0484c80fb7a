from billing import receipt


def test_receipt():
    assert receipt(1234) == "Paid 12.34"
