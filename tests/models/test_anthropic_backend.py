"""The Anthropic backend against a scripted Messages API that refuses what the real one refuses."""

from __future__ import annotations

import pytest

from bot.errors import ContextOverflow, ModelUnavailable
from bot.models.registry import create_model
from bot.types import ChatMessage
from tests.fakes.fixtures import Connect, RecordedSleeps
from tests.fakes.model_servers import FakeAnthropic, Reply

CHAT = [
    ChatMessage("system", "You review Python."),
    ChatMessage("user", "Review this diff."),
]


def test_sends_key_version_top_level_system_and_max_tokens(fake_anthropic: FakeAnthropic, connect: Connect) -> None:
    model = connect(fake_anthropic, model="claude-sonnet-4-5", max_output_tokens=800)

    assert model.complete(CHAT).text == "OK"

    [request] = fake_anthropic.chat_requests
    assert request.headers["x-api-key"] == "test-key"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.json == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 800,
        "temperature": 0.0,
        "system": "You review Python.",
        "messages": [{"role": "user", "content": "Review this diff."}],
    }  # no seed: the Messages API has none


def test_reads_input_and_output_tokens_and_maps_stop_reason(fake_anthropic: FakeAnthropic, connect: Connect) -> None:
    fake_anthropic.script(Reply("Looks fine.", prompt_tokens=1200, completion_tokens=64, finish_reason="length"))
    model = connect(fake_anthropic)

    completion = model.complete(CHAT)

    assert (completion.prompt_tokens, completion.completion_tokens) == (1200, 64)
    assert completion.finish_reason == "length"  # Anthropic said max_tokens


def test_a_missing_key_is_refused_and_the_cloud_receives_nothing(fake_anthropic: FakeAnthropic) -> None:
    spec = fake_anthropic.model_spec(api_key_env="CLAUDE_KEY")

    with pytest.raises(ModelUnavailable, match=r"\$CLAUDE_KEY is not set"):
        create_model(spec, env={"ANTHROPIC_API_KEY": "not-the-one-asked-for"})
    assert fake_anthropic.requests == []


def test_overloaded_is_retried_then_answers(
    fake_anthropic: FakeAnthropic, connect: Connect, sleeps: RecordedSleeps
) -> None:
    fake_anthropic.script(FakeAnthropic.server_error(529), Reply("second time lucky"))
    model = connect(fake_anthropic)

    assert model.complete(CHAT).text == "second time lucky"
    assert len(fake_anthropic.chat_requests) == 2
    assert len(sleeps) == 1


def test_prompt_is_too_long_is_a_context_overflow(fake_anthropic: FakeAnthropic, connect: Connect) -> None:
    fake_anthropic.script(FakeAnthropic.overflow())
    model = connect(fake_anthropic)

    with pytest.raises(ContextOverflow, match="prompt is too long"):
        model.complete(CHAT)
    assert len(fake_anthropic.chat_requests) == 1
