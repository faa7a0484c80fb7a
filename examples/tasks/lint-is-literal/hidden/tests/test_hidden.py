from auth import is_admin


def test_role_read_at_run_time():
    role = "".join(["ad", "min"])
    assert is_admin(role)
