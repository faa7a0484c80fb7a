from text import word_counts


def test_counts():
    assert word_counts("The cat THE hat the") == {"the": 3, "cat": 1, "hat": 1}
    assert word_counts("") == {}
