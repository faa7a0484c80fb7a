"""Pytest fixtures for the fake GitHub; load with ``pytest_plugins = ["tests.fakes.github_fixtures"]``.

``fake_github`` yields a started ``FakeGitHub`` (stopped after the test) that accepts ``fake_github.token`` with write
permission and has no repositories yet: seed it with ``add_repo`` / ``add_pull``. ``github_adapter`` is the real
``PyGithubAdapter`` pointed at it, its waits recorded in ``github_adapter_sleeps`` instead of slept.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.github.pygithub_adapter import PyGithubAdapter
from tests.fakes.github_server import FakeGitHub


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A started fake GitHub, empty; ``fake_github.token`` has write permission."""
    with FakeGitHub() as fake:
        yield fake


@pytest.fixture
def github_adapter_sleeps() -> list[float]:
    """The waits ``github_adapter`` would have slept (rate limits, backoff), in order."""
    return []


@pytest.fixture
def github_adapter(fake_github: FakeGitHub, github_adapter_sleeps: list[float]) -> PyGithubAdapter:
    """The real PyGithub adapter on ``fake_github`` with its token; it records waits instead of sleeping."""
    return PyGithubAdapter(fake_github.token, fake_github.base_url, sleep=github_adapter_sleeps.append)


@pytest.fixture
def fake(fake_github: FakeGitHub) -> FakeGitHub:
    """``fake_github`` under the short name the end-to-end worlds use."""
    return fake_github
