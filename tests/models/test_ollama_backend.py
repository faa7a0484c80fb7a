"""The Ollama backend against a scripted /api/chat server: num_ctx is always explicit, a long prompt never sent."""

from __future__ import annotations

import pytest

from bot.errors import ContextOverflow, ModelUnavailable
from bot.models.http import RetryPolicy
from bot.models.registry import create_model
from bot.types import ChatMessage, ModelSpec
from tests.fakes.fixtures import Connect, RecordedSleeps
from tests.fakes.model_servers import FakeOllama, Reply

CHAT = [ChatMessage("system", "You write patches."), ChatMessage("user", "Fix the bug.")]


def test_sets_num_ctx_seed_temperature_and_num_predict(fake_ollama: FakeOllama, connect: Connect) -> None:
    model = connect(fake_ollama, model="qwen2.5-coder:7b", context_length=16384, max_output_tokens=512, seed=3)

    model.complete(CHAT)

    [request] = fake_ollama.chat_requests
    assert request.json == {
        "model": "qwen2.5-coder:7b",
        "messages": [
            {"role": "system", "content": "You write patches."},
            {"role": "user", "content": "Fix the bug."},
        ],
        "stream": False,
        "options": {"num_ctx": 16384, "temperature": 0.0, "seed": 3, "num_predict": 512},
    }


def test_reads_prompt_eval_count_and_eval_count(fake_ollama: FakeOllama, connect: Connect) -> None:
    fake_ollama.script(Reply("--- a/x.py", prompt_tokens=812, completion_tokens=95, finish_reason="length"))
    model = connect(fake_ollama, model="fake-model")

    completion = model.complete(CHAT)

    assert completion.text == "--- a/x.py"
    assert (completion.prompt_tokens, completion.completion_tokens, completion.tokens) == (812, 95, 907)
    assert completion.finish_reason == "length"
    assert completion.model == "fake-model"


def test_a_model_not_pulled_says_how_to_pull_it(connect: Connect) -> None:
    with FakeOllama(models=("llama3.2:1b",)) as server:
        model = connect(server, model="qwen2.5-coder:7b")
        with pytest.raises(ModelUnavailable, match=r"HTTP 404.*ollama pull qwen2.5-coder:7b"):
            model.complete(CHAT)


def test_a_prompt_longer_than_num_ctx_is_refused_before_ollama_could_truncate_it(
    fake_ollama: FakeOllama, connect: Connect
) -> None:
    model = connect(fake_ollama, context_length=2048, max_output_tokens=256)
    long_diff = "+    x = 1\n" * 800  # ~8800 characters: about 2500 estimated tokens

    with pytest.raises(ContextOverflow, match=r"only 1792 fit \(context_length 2048 minus 256"):
        model.complete([ChatMessage("user", long_diff)])
    assert fake_ollama.chat_requests == []


def test_ollama_not_running_is_unavailable_with_the_url(
    refused_url: str, fast_retry: RetryPolicy, sleeps: RecordedSleeps
) -> None:
    spec = ModelSpec(name="local", backend="ollama", model="m", location="local", url=refused_url, retries=2)
    model = create_model(spec, env={}, retry=fast_retry)

    with pytest.raises(ModelUnavailable) as caught:
        model.complete(CHAT)

    message = str(caught.value)
    assert f"{refused_url}/api/chat" in message
    assert "is Ollama running" in message
    assert len(sleeps) == 2  # connection errors are retried spec.retries times
