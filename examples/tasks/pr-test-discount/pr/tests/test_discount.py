from shop import discounted


def test_twenty_percent_off():
    assert discounted(50.0, 20) == 40.0
