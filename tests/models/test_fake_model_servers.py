"""The fake model servers other tests rely on: real HTTP, the real shapes, scripting, clean stop."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.fakes.model_servers import ErrorReply, FakeAnthropic, FakeOllama, FakeOpenAI, Reply


def test_openai_fake_answers_the_real_chat_completion_shape() -> None:
    with FakeOpenAI(default=Reply("hi", prompt_tokens=5, completion_tokens=1)) as server:
        body = httpx.post(f"{server.url}/chat/completions", json={"model": "m", "messages": []}).json()
        models = httpx.get(f"{server.url}/models").json()

    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "hi", "refusal": None}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}
    assert models["data"][0]["id"] == "fake-model"


def test_ollama_fake_refuses_streaming_and_lists_its_models() -> None:
    with FakeOllama(models=("qwen2.5-coder:7b",)) as server:
        streaming = httpx.post(f"{server.url}/api/chat", json={"model": "qwen2.5-coder:7b", "messages": []})
        body = httpx.post(
            f"{server.url}/api/chat", json={"model": "qwen2.5-coder:7b", "messages": [], "stream": False}
        ).json()
        tags = httpx.get(f"{server.url}/api/tags").json()

    assert streaming.status_code == 400
    assert {"model", "created_at", "message", "done", "done_reason", "prompt_eval_count", "eval_count"} <= set(body)
    assert body["done"] is True
    assert [m["name"] for m in tags["models"]] == ["qwen2.5-coder:7b"]


def test_anthropic_fake_refuses_a_system_role_message_like_the_real_api() -> None:
    with FakeAnthropic() as server:
        response = httpx.post(
            f"{server.url}/v1/messages",
            headers={"x-api-key": "test-key", "anthropic-version": "2023-06-01"},
            json={"model": "m", "max_tokens": 10, "messages": [{"role": "system", "content": "x"}]},
        )

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "top-level `system` parameter" in response.json()["error"]["message"]


def test_queue_then_callable_then_default() -> None:
    seen: list[object] = []

    def respond(body: object) -> Reply:
        seen.append(body)
        return Reply("from the callable")

    with FakeOpenAI(respond=respond) as server:
        server.script(Reply("first"), ErrorReply(418, "teapot", {"X-Why": "test"}))
        first = httpx.post(f"{server.url}/chat/completions", json={"model": "m"})
        second = httpx.post(f"{server.url}/chat/completions", json={"model": "m"})
        third = httpx.post(f"{server.url}/chat/completions", json={"model": "m", "n": 3})

    assert first.json()["choices"][0]["message"]["content"] == "first"
    assert (second.status_code, second.text, second.headers["x-why"]) == (418, "teapot", "test")
    assert third.json()["choices"][0]["message"]["content"] == "from the callable"
    assert seen == [{"model": "m", "n": 3}]
    assert [r.json for r in server.chat_requests][2] == {"model": "m", "n": 3}


def test_stop_does_not_wait_for_a_delayed_reply() -> None:
    server = FakeOpenAI(default=FakeOpenAI.slow(30)).start()
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server.url}/chat/completions", json={"model": "m"}, timeout=0.2)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
