from auth import is_admin


def test_user_is_not_admin():
    assert not is_admin("user")
