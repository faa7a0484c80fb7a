from thumbs import SIZE


def test_size():
    assert SIZE == (64, 64)
