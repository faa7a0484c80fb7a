"""The one small interface every model backend implements, and the token estimate HTTP backends share.

A backend is built by ``bot.models.registry.create_model(spec, env=...)``; the pipeline only ever sees a
``ChatModel``. Every backend:

- answers at ``spec.temperature`` (0 by default) with ``spec.seed`` where the API has a seed;
- checks that the prompt fits ``spec.context_length`` before sending it (``ContextOverflow`` otherwise), so a server
  never silently cuts it;
- retries 429, 5xx and connection errors ``spec.retries`` times with backoff (HTTP backends);
- raises only ``ModelError`` subclasses: ``ModelTimeout``, ``ModelUnavailable``, ``ContextOverflow``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from bot.types import ChatMessage, Completion, ModelSpec

if TYPE_CHECKING:
    from bot.templates import ChatTemplate

# Characters per token for the estimate HTTP backends use. Real tokenizers give ~3.5-4.5 characters per token on
# English and code; dividing by 3.5 (and rounding up) over-counts slightly, so a prompt we say fits does fit.
CHARS_PER_TOKEN = 3.5


class ChatModel(Protocol):
    """A chat model Guardrail can ask for a review or a patch.

    ``template`` is the chat template Guardrail renders itself and sends as a raw prompt (always for ``llamacpp``;
    for ``openai`` and ``ollama`` when the policy pins one); ``None`` when the server applies its own template.
    ``exact_tokens`` is True when ``count_tokens`` is the model's own tokenizer, not an estimate.
    """

    spec: ModelSpec
    template: ChatTemplate | None
    exact_tokens: bool

    def complete(self, messages: Sequence[ChatMessage], *, max_tokens: int | None = None) -> Completion:
        """Ask for one reply; ``max_tokens`` defaults to ``spec.max_output_tokens``.

        Raises ``ContextOverflow`` (prompt plus ``max_tokens`` does not fit), ``ModelTimeout``, ``ModelUnavailable``
        or ``ModelError`` (a reply of an unexpected shape, a request the server refused).
        """
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` (special markers count as one): exact for llamacpp (its tokenizer), a conservative
        estimate for HTTP backends."""
        ...

    def close(self) -> None:
        """Release what the model holds (an HTTP client it created); the model is not used afterwards."""
        ...


def estimate_tokens(text: str) -> int:
    """A conservative token count for servers whose tokenizer we do not have: ``ceil(len(text) / 3.5)``."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)
