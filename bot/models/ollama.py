"""Ollama's native ``/api/chat``, so the context length is set explicitly.

Ollama's OpenAI-compatible endpoint cannot set ``num_ctx``, and Ollama otherwise loads a model with a small
default context and silently drops the start of a longer prompt. Here every request sends
``options: {num_ctx, temperature, seed, num_predict}`` and ``stream: false``; the prompt is checked against
``num_ctx`` before it is sent.

With a pinned chat template the rendered prompt goes to ``/api/generate`` with ``raw: true`` (Ollama applies no
template of its own) and the template's stop strings in ``options.stop``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.models.http import Hints, HttpChatModel
from bot.types import ChatMessage, Completion

DEFAULT_URL = "http://127.0.0.1:11434"


class OllamaChat(HttpChatModel):
    """A model served by Ollama, asked through ``/api/chat``."""

    def endpoint(self) -> str:
        return f"{self.url}/api/chat"

    def headers(self) -> dict[str, str]:
        # Ollama itself has no keys; a reverse proxy in front of it may want one.
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def payload(self, messages: Sequence[ChatMessage], max_tokens: int) -> dict[str, Any]:
        return {
            "model": self.spec.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": False,
            "options": {
                "num_ctx": self.spec.context_length,
                "temperature": self.spec.temperature,
                "seed": self.spec.seed,
                "num_predict": max_tokens,
            },
        }

    def raw_endpoint(self) -> str:
        return f"{self.url}/api/generate"

    def raw_payload(self, prompt: str, max_tokens: int) -> dict[str, Any]:
        assert self.template is not None  # raw prompts only with a template
        payload = self.payload([], max_tokens)
        del payload["messages"]
        payload["options"]["stop"] = self.template.stop_sequences()
        return {**payload, "prompt": prompt, "raw": True}

    def parse_raw(self, body: Mapping[str, Any]) -> Completion:
        return self._completion(body, str(body["response"] or ""))

    def parse(self, body: Mapping[str, Any]) -> Completion:
        return self._completion(body, str(body["message"].get("content") or ""))

    def _completion(self, body: Mapping[str, Any], text: str) -> Completion:
        if body.get("done") is False:
            raise ValueError("done is false in a non-streaming reply")
        return Completion(
            text=text,
            prompt_tokens=int(body.get("prompt_eval_count", 0)),
            completion_tokens=int(body.get("eval_count", 0)),
            model=str(body.get("model", "")),
            finish_reason=str(body.get("done_reason") or ""),
        )

    def hints(self) -> Hints:
        return Hints(
            unreachable="is Ollama running (`ollama serve`) at that address?",
            not_found=f"is the model pulled? (`ollama pull {self.spec.model}`)",
            unauthorized="the proxy in front of Ollama rejected the key; check the model's api_key_env",
        )
