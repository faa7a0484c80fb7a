from auth import ROLES


def test_roles():
    assert "admin" in ROLES
