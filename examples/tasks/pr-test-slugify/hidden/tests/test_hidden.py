from blog import slugify


def test_slugs():
    assert slugify("Hello World") == "hello-world"
    assert slugify("  Python 3.12: What's New? ") == "python-3-12-what-s-new"
