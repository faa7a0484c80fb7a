from text import word_counts


def test_counts_ignore_case():
    assert word_counts("a A b") == {"a": 2, "b": 1}
