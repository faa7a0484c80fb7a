"""Retries, backoff, timeouts and refused connections, the same for every HTTP backend."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from bot.errors import ModelTimeout, ModelUnavailable
from bot.models.http import RetryPolicy
from bot.models.registry import create_model
from bot.types import ChatMessage, ModelSpec
from tests.fakes.fixtures import Connect, RecordedSleeps
from tests.fakes.model_servers import FakeAnthropic, FakeModelServer, FakeOllama, FakeOpenAI, Reply

CHAT = [ChatMessage("user", "Review this diff.")]


@pytest.fixture(params=[FakeOpenAI, FakeOllama, FakeAnthropic], ids=["openai", "ollama", "anthropic"])
def server(request: pytest.FixtureRequest) -> Iterator[FakeModelServer]:
    with request.param() as fake:
        yield fake


def test_429_waits_the_retry_after_then_succeeds(
    server: FakeModelServer, connect: Connect, sleeps: RecordedSleeps
) -> None:
    server.script(server.rate_limited(retry_after=1.5), Reply("after the wait", prompt_tokens=30, completion_tokens=4))
    model = connect(server)

    completion = model.complete(CHAT)

    assert completion.text == "after the wait"
    assert (completion.prompt_tokens, completion.completion_tokens) == (30, 4)
    assert sleeps == [1.5]
    assert len(server.chat_requests) == 2


def test_5xx_is_retried_with_growing_backoff_then_unavailable(
    server: FakeModelServer, connect: Connect, sleeps: RecordedSleeps
) -> None:
    server.default = server.server_error(503)
    model = connect(server, retries=2)

    with pytest.raises(ModelUnavailable) as caught:
        model.complete(CHAT)

    assert f"POST {server.base_url}" in str(caught.value)
    assert "HTTP 503 after 3 tries" in str(caught.value)
    assert len(server.chat_requests) == 3
    assert sleeps == [0.01, 0.02]  # base 0.01 doubling; jitter pinned at its maximum


def test_a_slow_server_times_out_with_the_url_and_seconds(server: FakeModelServer, connect: Connect) -> None:
    server.default = server.slow(1.0)
    model = connect(server, timeout=0.3)

    started = time.monotonic()
    with pytest.raises(ModelTimeout) as caught:
        model.complete(CHAT)

    assert time.monotonic() - started < 0.9
    assert server.base_url in str(caught.value)
    assert "within 0.3 seconds" in str(caught.value)
    assert len(server.chat_requests) == 1  # a timeout is not retried


def test_retry_after_is_capped(fake_openai: FakeOpenAI, connect: Connect, sleeps: RecordedSleeps) -> None:
    fake_openai.script(fake_openai.rate_limited(retry_after=3600), Reply())
    model = connect(fake_openai)

    model.complete(CHAT)

    assert sleeps == [2.0]  # fast_retry's max_delay


def test_rate_limited_on_every_try_is_unavailable(fake_openai: FakeOpenAI, connect: Connect) -> None:
    fake_openai.default = fake_openai.rate_limited(retry_after=0)
    model = connect(fake_openai, retries=1)

    with pytest.raises(ModelUnavailable, match=r"HTTP 429 after 2 tries \(rate limited\)"):
        model.complete(CHAT)


def test_connection_refused_is_unavailable_with_the_url(
    refused_url: str, fast_retry: RetryPolicy, sleeps: RecordedSleeps
) -> None:
    spec = ModelSpec(name="lmstudio", backend="openai", model="m", location="local", url=f"{refused_url}/v1")
    model = create_model(spec, env={}, retry=fast_retry)

    with pytest.raises(ModelUnavailable, match="cannot connect to") as caught:
        model.complete(CHAT)

    assert f"{refused_url}/v1/chat/completions" in str(caught.value)
    assert "the URL must end in /v1" in str(caught.value)
    assert len(sleeps) == spec.retries


def test_real_backoff_is_short_with_a_small_base_delay(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(fake_openai.server_error(500), fake_openai.server_error(502), Reply("ok"))
    model = create_model(fake_openai.model_spec(), env={}, retry=RetryPolicy(base_delay=0.01))

    started = time.monotonic()
    assert model.complete(CHAT).text == "ok"
    assert time.monotonic() - started < 1.0
    model.close()


def test_backoff_doubles_with_jitter_and_stays_under_the_cap() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0)

    for attempt, ceiling in enumerate([1.0, 2.0, 4.0, 5.0, 5.0]):
        delay = policy.delay(attempt, None)
        assert ceiling / 2 <= delay <= ceiling
    assert policy.delay(0, retry_after=3.0) >= 3.0  # Retry-After is a floor, not a suggestion
