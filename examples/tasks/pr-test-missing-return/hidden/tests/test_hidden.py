from settings import parse_setting


def test_values_keep_equals_signs():
    assert parse_setting("url = a=b") == ("url", "a=b")
    assert parse_setting(" name=x ") == ("name", "x")
