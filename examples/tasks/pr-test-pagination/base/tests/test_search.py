from search import search


def test_search_finds_words():
    assert search(["apple", "banana"], "an") == ["banana"]
