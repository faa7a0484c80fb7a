from scores import top


def test_input_untouched():
    scores = [3, 9, 4, 7]
    assert top(scores, 3) == [9, 7, 4]
    assert scores == [3, 9, 4, 7]
