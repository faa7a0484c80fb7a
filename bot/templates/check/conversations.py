"""The fixed conversations every runtime is checked with.

Renderings cover a system message and none (where a default system prompt shows), several turns, and the
generation prompt on and off; ``REFUSED`` are conversations a strict template must refuse (roles that do not
alternate). Generations use ``PROBES``: short prompts, because a small model (SmolLM2-135M) loops to the length
limit on long multi-turn ones, and a stop probe must end on a stop token, not on the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.types import ChatMessage


@dataclass(frozen=True)
class Conversation:
    name: str
    messages: tuple[ChatMessage, ...]
    add_generation_prompt: bool = True


SYSTEM = ChatMessage("system", "You are a careful code reviewer. Answer briefly.")
USER = ChatMessage("user", "Is `x = 1` valid Python?")

RENDERED: tuple[Conversation, ...] = (
    Conversation("system and user", (SYSTEM, USER)),
    Conversation("user only", (USER,)),
    Conversation(
        "multi-turn",
        (
            SYSTEM,
            USER,
            ChatMessage("assistant", "Yes."),
            ChatMessage("user", 'And `print("<b>é</b>")`?'),
        ),
    ),
    Conversation("multi-turn, no generation prompt", (SYSTEM, USER, ChatMessage("assistant", "Yes.")), False),
)

REFUSED: tuple[Conversation, ...] = (Conversation("two user turns in a row", (USER, ChatMessage("user", "Again?"))),)

PROBES: tuple[Conversation, ...] = (  # SmolLM2-135M ends both in 6 to 12 tokens, with or without a system prompt
    Conversation("arithmetic", (ChatMessage("user", "What is 2+2?"),)),
    Conversation("say OK", (ChatMessage("user", "Say OK."),)),
)

PROBE_TOKENS = 48  # enough for a short answer to end on its own; a reply that needs more did not stop
GREEDY_TOKENS = 16  # tokens compared between the raw and the chat path, and across runtimes


def overflow(tokens: int) -> Conversation:
    """A conversation of about ``tokens`` tokens (one per repeated word in common tokenizers): over the context."""
    return Conversation("over the context", (ChatMessage("user", "word " * tokens),))
