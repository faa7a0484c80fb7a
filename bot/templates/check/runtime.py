"""What ``template-check`` asks of a runtime, whichever it is: render, tokenize, complete raw, complete a chat.

Every runtime is asked the same way: greedy (temperature 0, ``repeat_penalty`` 1.0 where the runtime has one, a fixed
seed) and with prompt caching off or flushed before each generation, so that a difference is the template's or the
numbers', never the sampler's or the cache's. A runtime that cannot do something raises ``Unsupported``, and the
check says so instead of passing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bot.types import ChatMessage

GREEDY_SEED = 0


class Unsupported(Exception):
    """The runtime offers no way to do this (e.g. llama-cpp-python's server renders no template on request)."""


class RuntimeRefused(Exception):
    """The runtime refused the request (a template that raised, a prompt over its context); the message is its own."""


@dataclass(frozen=True)
class RuntimeInfo:
    """What a runtime says about itself, recorded with every result so a later regression can be traced."""

    kind: str  # "llama-cpp-python", "llama-cpp-python server", "llama-server", "ollama", "vllm", "openai-compatible"
    where: str  # "in process" or the base URL
    version: str = ""
    build: str = ""
    weights: str = ""  # the GGUF file name (or the model id) the runtime serves
    quantization: str = ""
    template_sha256: str = ""  # sha256 of the runtime's own template text, when it shows it
    n_ctx: int | None = None
    bos_token: str = ""
    bos_id: int | None = None
    notes: tuple[str, ...] = field(default=())

    def label(self) -> str:
        version = f" {self.version}" if self.version else ""
        return f"{self.kind}{version} ({self.where})"


@dataclass(frozen=True)
class Generation:
    """One greedy completion."""

    text: str
    finish_reason: str  # "stop" or "length"
    prompt_tokens: int
    completion_tokens: int


class Runtime(Protocol):
    """One runtime serving one model."""

    info: RuntimeInfo

    def render(self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool) -> str:
        """The runtime's own rendering of ``messages``. ``Unsupported``; ``RuntimeRefused`` when its template
        refuses the conversation."""
        ...

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` as the runtime reads a raw prompt: special markers parsed, BOS added as the model
        asks. ``Unsupported``."""
        ...

    def raw(self, prompt: str, *, max_tokens: int, stop: Sequence[str]) -> Generation:
        """Greedy completion of the raw ``prompt``. ``RuntimeRefused`` (e.g. over the context), ``Unsupported``."""
        ...

    def chat(self, messages: Sequence[ChatMessage], *, max_tokens: int) -> Generation:
        """Greedy completion of ``messages`` through the runtime's own chat template (the endpoint Guardrail would
        use without a pinned template). ``RuntimeRefused``."""
        ...

    def close(self) -> None: ...
