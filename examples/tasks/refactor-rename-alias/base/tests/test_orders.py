from orders import calc_tot


def test_calc_tot():
    assert calc_tot([(2, 3), (1, 4)]) == 10
