from orders import order_total


def test_new_name():
    assert order_total([(3, 5)]) == 15
