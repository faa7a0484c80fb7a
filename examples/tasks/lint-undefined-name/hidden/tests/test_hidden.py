from money import fmt


def test_unknown_currency():
    assert fmt(2.5, "CHF") == "2.50 CHF"
