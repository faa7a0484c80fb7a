from thumbs import LRU


def test_evicts_oldest():
    cache = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("c", 3)
    assert cache.get("a") is None
    assert cache.get("c") == 3
