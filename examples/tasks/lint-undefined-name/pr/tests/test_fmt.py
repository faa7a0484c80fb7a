from money import fmt


def test_dollars():
    assert fmt(3, "USD") == "$3.00"
