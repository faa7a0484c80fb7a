from downloads import download_link


def test_links():
    assert download_link({"id": "7", "active": True}) == "https://example.invalid/d/7"
    assert download_link({"id": "8", "active": False}) is None
