"""The fake model servers' fixtures, re-exported for the tests in this directory."""

from __future__ import annotations

from tests.fakes.fixtures import (  # noqa: F401  (pytest finds fixtures by name in a conftest)
    connect,
    fake_anthropic,
    fake_ollama,
    fake_openai,
    fast_retry,
    refused_url,
    sleeps,
)
