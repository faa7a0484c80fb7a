BASE = "https://example.invalid/d/"
