"""Redacting known secret values from what the gates report, in the forms PR code would most likely disguise them.

PR code that got hold of a secret (a value committed in the tree, a variable the config passes in) could print it in
a test's failure message, which is posted on the pull request. Every form below of every secret value is replaced by
``***``: the value itself, reversed, in hexadecimal (either case), in base64 and URL-safe base64 (at each of the
three alignments a value can have inside a longer base64 text, so a secret embedded in an encoded blob is caught
too), and percent-encoded. Values shorter than :data:`MIN_LENGTH` characters are not redacted (too many false hits).

Not caught: any other encoding (rot13, XOR, a secret split over two lines, one character per test name, ...);
redaction is a last line, the jail is the wall.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from collections.abc import Iterable

MIN_LENGTH = 6
MASK = "***"


def _base64_forms(data: bytes) -> set[str]:
    forms = set()
    for offset in range(3):
        padded = b"\0" * offset + data
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(padded).decode("ascii")
            start = -(-8 * offset // 6)  # first character made of the value's bits only
            end = (8 * (offset + len(data))) // 6  # past the last such character
            core = text[start:end]
            if len(core) >= MIN_LENGTH:
                forms.add(core)
    return forms


def forms(secret: str) -> set[str]:
    """Every string :func:`redact` replaces for one secret value (hex forms are matched case-insensitively)."""
    data = secret.encode("utf-8")
    found = {secret, secret[::-1], data.hex(), urllib.parse.quote(secret, safe="")}
    found |= _base64_forms(data) | _base64_forms(secret[::-1].encode("utf-8"))
    return {f for f in found if len(f) >= MIN_LENGTH}


def pattern(secrets: Iterable[str]) -> re.Pattern[str] | None:
    """One regular expression matching every form of every secret (longest first), or None when there are none."""
    all_forms: set[str] = set()
    for secret in secrets:
        if len(secret) >= MIN_LENGTH:
            all_forms |= forms(secret)
    if not all_forms:
        return None
    parts = []
    for form in sorted(all_forms, key=len, reverse=True):
        if re.fullmatch(r"[0-9a-f]+", form) and len(form) % 2 == 0 and form != form.upper():
            parts.append("(?i:" + re.escape(form) + ")")
        else:
            parts.append(re.escape(form))
    return re.compile("|".join(parts))


def redact(text: str, compiled: re.Pattern[str] | None) -> str:
    """``text`` with every match of ``compiled`` (from :func:`pattern`) replaced by ``***``."""
    return text if compiled is None else compiled.sub(MASK, text)
