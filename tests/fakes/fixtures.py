"""Pytest fixtures for the fake model servers; load with ``pytest_plugins = ["tests.fakes.fixtures"]``.

Each fixture yields a started server (stopped after the test) with the default reply ``Reply("OK")``; script it
with ``server.script(...)`` or set ``server.default`` / ``server.respond``. ``fast_retry`` is a ``RetryPolicy`` that
records the waits instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from bot.models.base import ChatModel
from bot.models.http import RetryPolicy
from bot.models.registry import create_model
from tests.fakes.model_servers import FakeAnthropic, FakeModelServer, FakeOllama, FakeOpenAI, unused_port


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def fake_ollama() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        yield server


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
def refused_url() -> str:
    """An http://127.0.0.1 URL where nothing listens: connecting to it is refused."""
    return f"http://127.0.0.1:{unused_port()}"


class RecordedSleeps(list[float]):
    """The waits a RetryPolicy asked for, in order; nothing actually sleeps."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> RecordedSleeps:
    return RecordedSleeps()


@pytest.fixture
def fast_retry(sleeps: RecordedSleeps) -> RetryPolicy:
    """Backoff that records its waits in ``sleeps`` (jitter fixed at its maximum) and returns at once."""
    return RetryPolicy(base_delay=0.01, max_delay=2.0, sleep=sleeps, jitter=lambda: 1.0)


Connect = Callable[..., ChatModel]


@pytest.fixture
def connect(fast_retry: RetryPolicy) -> Iterator[Connect]:
    """``connect(server, env=None, **spec_fields)``: ``create_model`` on ``server.model_spec(**spec_fields)``.

    Backoff is instant (``fast_retry``); ``env`` defaults to a test Anthropic key for ``FakeAnthropic``. The models
    are closed after the test.
    """
    opened: list[ChatModel] = []

    def make(server: FakeModelServer, *, env: Mapping[str, str] | None = None, **fields: Any) -> ChatModel:
        default_env = {"ANTHROPIC_API_KEY": "test-key"} if server.backend == "anthropic" else {}
        model = create_model(server.model_spec(**fields), env=default_env if env is None else env, retry=fast_retry)
        opened.append(model)
        return model

    yield make
    for model in opened:
        model.close()


@pytest.fixture
def ollama(fake_ollama: FakeOllama) -> FakeOllama:
    """``fake_ollama`` under the short name the end-to-end worlds use."""
    return fake_ollama
