from ui import callbacks


def test_one_callback():
    [only] = callbacks(["ok"])
    assert only() == "ok"
