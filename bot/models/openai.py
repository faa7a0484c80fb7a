"""Any OpenAI-compatible chat completions endpoint: OpenAI, Ollama's /v1, llama-server, vLLM, LM Studio.

``POST {url}/chat/completions`` where ``url`` includes ``/v1``. The server applies the model's chat template. The
``Authorization: Bearer`` header is sent only when an API key is set (the registry requires one unless the URL is
loopback). With a pinned chat template the rendered prompt goes to ``POST {url}/completions`` instead (the legacy
completions API, which llama-server, vLLM, LM Studio, Ollama's /v1 and llama-cpp-python's server all serve) with the
template's stop strings. ``seed`` is sent; servers that ignore it (OpenAI only tries its best) are deterministic
only as far as temperature 0 goes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.models.http import Hints, HttpChatModel
from bot.types import ChatMessage, Completion

DEFAULT_URL = "https://api.openai.com/v1"


class OpenAIChat(HttpChatModel):
    """A model behind an OpenAI-compatible ``/chat/completions`` endpoint."""

    def endpoint(self) -> str:
        return f"{self.url}/chat/completions"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def payload(self, messages: Sequence[ChatMessage], max_tokens: int) -> dict[str, Any]:
        return {
            "model": self.spec.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": self.spec.temperature,
            "seed": self.spec.seed,
            "max_tokens": max_tokens,
            "stream": False,
        }

    def parse(self, body: Mapping[str, Any]) -> Completion:
        choice = body["choices"][0]
        usage = body.get("usage") or {}
        return Completion(
            text=_text_of(choice["message"].get("content")),
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            model=str(body.get("model", "")),
            finish_reason=str(choice.get("finish_reason") or ""),
        )

    def raw_endpoint(self) -> str:
        return f"{self.url}/completions"

    def raw_payload(self, prompt: str, max_tokens: int) -> dict[str, Any]:
        assert self.template is not None  # raw prompts only with a template
        return {
            "model": self.spec.model,
            "prompt": prompt,
            "temperature": self.spec.temperature,
            "seed": self.spec.seed,
            "max_tokens": max_tokens,
            "stop": self.template.stop_sequences(),
            "stream": False,
        }

    def parse_raw(self, body: Mapping[str, Any]) -> Completion:
        choice = body["choices"][0]
        usage = body.get("usage") or {}
        return Completion(
            text=str(choice["text"] or ""),
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            model=str(body.get("model", "")),
            finish_reason=str(choice.get("finish_reason") or ""),
        )

    def hints(self) -> Hints:
        return Hints(
            unreachable=(
                "is the server running there? (Ollama: `ollama serve`; llama.cpp: `llama-server --port N`; "
                "vLLM: `vllm serve`); the URL must end in /v1"
            ),
            not_found=f"does the URL end in /v1, and does the server serve a model called {self.spec.model!r}?",
            unauthorized=(
                f"the server rejected the API key; check ${self.spec.api_key_env}"
                if self.spec.api_key_env
                else "the server wants an API key; name its variable in the model's api_key_env"
            ),
        )


def _text_of(content: Any) -> str:
    """The answer's text: ``content`` is a string, null, or a list of parts (Mistral's reasoning models put a
    ``thinking`` part before the ``text`` parts); only ``text`` parts are the answer. TypeError on anything else."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list) and all(isinstance(part, dict) for part in content):
        return "".join(str(part.get("text") or "") for part in content if part.get("type") == "text")
    raise TypeError(f"message content is neither text nor a list of parts: {type(content).__name__}")
