from shop import discounted


def test_discounts():
    assert discounted(50.0, 20) == 40.0
    assert discounted(19.99, 0) == 19.99
    assert discounted(80.0, 100) == 0.0
    assert discounted(10.0, 15) == 8.5
