from ui import callbacks


def test_each_callback_keeps_its_name():
    assert [f() for f in callbacks(["ok", "cancel"])] == ["ok", "cancel"]
