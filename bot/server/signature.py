"""``X-Hub-Signature-256``: HMAC-SHA256 of the raw request body, keyed with the App's webhook secret.

Source: docs.github.com /webhooks/using-webhooks/validating-webhook-deliveries (tests/data/github/FACTS.md §1.1): the
header is ``sha256=`` + the hex digest; compare in constant time. The docs' test vector: secret
``It's a Secret to Everybody``, payload ``Hello, World!`` → ``757107ea…043e17`` (tests/server/test_signature.py).
"""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(secret: bytes, body: bytes) -> str:
    """The header value GitHub sends for ``body``: ``sha256=<64 hex digits>``."""
    return PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """True when ``header`` is the signature of ``body`` under ``secret`` (constant-time comparison)."""
    if not header or not header.startswith(PREFIX):
        return False
    return hmac.compare_digest(sign(secret, body).encode("ascii"), header.strip().encode("ascii", "replace"))
