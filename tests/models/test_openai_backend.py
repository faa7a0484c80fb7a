"""The OpenAI-compatible backend against a scripted /v1/chat/completions server."""

from __future__ import annotations

import pytest

from bot.errors import ContextOverflow, ModelError, ModelUnavailable
from bot.types import ChatMessage
from tests.fakes.fixtures import Connect
from tests.fakes.model_servers import ErrorReply, FakeOpenAI, Reply

CHAT = [ChatMessage("system", "You review Python."), ChatMessage("user", "Review this diff.")]


def test_sends_a_deterministic_non_streaming_request(fake_openai: FakeOpenAI, connect: Connect) -> None:
    model = connect(fake_openai, model="qwen2.5-coder:7b", max_output_tokens=300, seed=7)

    model.complete(CHAT)

    [request] = fake_openai.chat_requests
    assert request.json == {
        "model": "qwen2.5-coder:7b",
        "messages": [
            {"role": "system", "content": "You review Python."},
            {"role": "user", "content": "Review this diff."},
        ],
        "temperature": 0.0,
        "seed": 7,
        "max_tokens": 300,
        "stream": False,
    }
    assert "authorization" not in request.headers  # a loopback server without a key gets no Authorization


def test_reads_text_usage_and_finish_reason(fake_openai: FakeOpenAI, connect: Connect) -> None:
    fake_openai.script(Reply("LGTM", prompt_tokens=40, completion_tokens=2, finish_reason="length"))
    model = connect(fake_openai)

    completion = model.complete(CHAT, max_tokens=2)

    assert (completion.text, completion.prompt_tokens, completion.completion_tokens) == ("LGTM", 40, 2)
    assert completion.finish_reason == "length"
    assert completion.model == "fake-model"
    assert completion.seconds > 0
    assert fake_openai.chat_requests[0].json["max_tokens"] == 2


def test_sends_the_bearer_key_when_one_is_set(connect: Connect) -> None:
    with FakeOpenAI(api_key="sk-local") as server:
        model = connect(server, api_key_env="LMSTUDIO_KEY", env={"LMSTUDIO_KEY": "sk-local"})
        assert model.complete(CHAT).text == "OK"
        assert server.chat_requests[0].headers["authorization"] == "Bearer sk-local"


def test_a_rejected_key_names_the_variable(connect: Connect) -> None:
    with FakeOpenAI(api_key="right") as server:
        model = connect(server, api_key_env="VLLM_TOKEN", env={"VLLM_TOKEN": "wrong"})
        with pytest.raises(ModelUnavailable, match=r"HTTP 401.*\$VLLM_TOKEN"):
            model.complete(CHAT)
        assert len(server.chat_requests) == 1  # 401 is not retried


def test_an_unknown_model_says_what_to_check(connect: Connect) -> None:
    with FakeOpenAI(models=("served-model",)) as server:
        model = connect(server, model="typo-model")
        with pytest.raises(ModelUnavailable, match=r"HTTP 404.*/v1.*'typo-model'"):
            model.complete(CHAT)


@pytest.mark.parametrize(
    "overflow", [FakeOpenAI.overflow(), FakeOpenAI.llama_server_overflow()], ids=["openai", "llama-server"]
)
def test_the_servers_context_error_is_a_context_overflow(
    fake_openai: FakeOpenAI, connect: Connect, overflow: ErrorReply
) -> None:
    fake_openai.script(overflow)
    model = connect(fake_openai)

    with pytest.raises(ContextOverflow, match="does not fit"):
        model.complete(CHAT)
    assert len(fake_openai.chat_requests) == 1  # not retried


def test_an_other_bad_request_is_not_retried(fake_openai: FakeOpenAI, connect: Connect) -> None:
    fake_openai.script(FakeOpenAI.error(400, "Unrecognized request argument supplied: foo"))
    model = connect(fake_openai)

    with pytest.raises(ModelError, match="Unrecognized request argument"):
        model.complete(CHAT)
    assert len(fake_openai.chat_requests) == 1


def test_content_given_as_parts_keeps_only_the_text_parts(fake_openai: FakeOpenAI, connect: Connect) -> None:
    """Mistral's reasoning models answer with ``content`` as a list of parts, a ``thinking`` part first: only the
    ``text`` parts are the answer (a draft in the thinking part must never be parsed)."""
    body = {
        "model": "magistral",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": [{"type": "text", "text": "draft: x = 0"}]},
                        {"type": "text", "text": "The fix: "},
                        {"type": "text", "text": "x = 1"},
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7},
    }
    fake_openai.script(ErrorReply(200, body))
    completion = connect(fake_openai).complete(CHAT)
    assert completion.text == "The fix: x = 1" and completion.finish_reason == "stop"


def test_content_that_is_neither_text_nor_parts_is_a_model_error(fake_openai: FakeOpenAI, connect: Connect) -> None:
    body = {"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": {"x": 1}}}]}
    fake_openai.script(ErrorReply(200, body))
    with pytest.raises(ModelError, match="content"):
        connect(fake_openai).complete(CHAT)
