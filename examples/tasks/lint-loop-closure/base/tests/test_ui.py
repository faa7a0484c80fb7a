from ui import button


def test_button():
    assert button("ok") == {"name": "ok"}
