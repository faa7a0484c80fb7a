"""Anthropic's Messages API over httpx.

``POST {url}/v1/messages`` with ``x-api-key`` and ``anthropic-version: 2023-06-01``; system messages go in the
top-level ``system`` field; ``max_tokens`` is required. The API has no seed: temperature 0 is as deterministic as it
gets. ``stop_reason`` is mapped to the OpenAI words the pipeline reads (``end_turn`` -> ``stop``, ``max_tokens`` ->
``length``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.models.http import Hints, HttpChatModel
from bot.types import ChatMessage, Completion

DEFAULT_URL = "https://api.anthropic.com"
DEFAULT_KEY_ENV = "ANTHROPIC_API_KEY"
API_VERSION = "2023-06-01"
_STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}


class AnthropicChat(HttpChatModel):
    """A Claude model through the Messages API."""

    def endpoint(self) -> str:
        return f"{self.url}/v1/messages"

    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.api_key or "", "anthropic-version": API_VERSION}

    def payload(self, messages: Sequence[ChatMessage], max_tokens: int) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        payload: dict[str, Any] = {
            "model": self.spec.model,
            "max_tokens": max_tokens,
            "temperature": self.spec.temperature,
            "messages": [{"role": m.role, "content": m.content} for m in messages if m.role != "system"],
        }
        if system:
            payload["system"] = system
        return payload

    def parse(self, body: Mapping[str, Any]) -> Completion:
        text = "".join(block["text"] for block in body["content"] if block.get("type") == "text")
        usage = body.get("usage") or {}
        stop_reason = str(body.get("stop_reason") or "")
        return Completion(
            text=text,
            prompt_tokens=int(usage.get("input_tokens", 0)),
            completion_tokens=int(usage.get("output_tokens", 0)),
            model=str(body.get("model", "")),
            finish_reason=_STOP_REASONS.get(stop_reason, stop_reason),
        )

    def hints(self) -> Hints:
        return Hints(
            unreachable="is the network up, and is the model's url right (https://api.anthropic.com)?",
            not_found=f"is {self.spec.model!r} a Claude model id your key can use?",
            unauthorized=f"Anthropic rejected the key; check ${self.spec.api_key_env}",
        )
