"""Replies that are damaged, not just sloppy: cut off, unfinished, or nothing but the model thinking aloud.

Tolerance stops here. A reply cut off at the output token limit (finish reason ``length``), a fence that never
closes, or a reply with nothing left once its reasoning blocks are removed is a ``ReplyParseError`` (re-asked once),
never "repaired" into code the model did not write. Reasoning blocks (``<think>...</think>``, ``<thinking>``,
``<reasoning>``, ``<reflection>``) are dropped before any edit is looked for, so a draft in them is never gated.
"""

from __future__ import annotations

import re

from bot.errors import ReplyParseError
from bot.parse.workspace import find_fences

_TAGS = ("think", "thinking", "reasoning", "reflection", "thought")
_BLOCK = re.compile(rf"<({'|'.join(_TAGS)})>.*?</\1>", re.DOTALL | re.IGNORECASE)
_OPEN = re.compile(rf"<({'|'.join(_TAGS)})>", re.IGNORECASE)
_CLOSE = re.compile(rf"</({'|'.join(_TAGS)})>", re.IGNORECASE)
CUT_OFF = (
    "the reply was cut off at the output token limit (finish reason `length`) before it was complete: "
    "answer again with a shorter change and no explanation"
)


def check_finish(finish_reason: str) -> None:
    """Raise ``ReplyParseError`` when the model stopped because it ran out of output tokens.

    ``finish_reason`` is OpenAI's word (``stop``, ``length``, ...); the backends map theirs to it (Ollama's
    ``done_reason``, Anthropic's ``stop_reason: max_tokens``, llama.cpp's ``finish_reason``).
    """
    if finish_reason == "length":
        raise ReplyParseError(CUT_OFF)


def strip_reasoning(reply: str) -> str:
    """The reply without its reasoning blocks; ``ReplyParseError`` when nothing else is left.

    A closing tag with no opening one (the chat template opened the block in the prompt) drops everything before
    it; an opening tag that never closes drops everything after it (the model never got to its answer).
    """
    had = bool(_OPEN.search(reply) or _CLOSE.search(reply))
    text = _BLOCK.sub("", reply)
    closing = list(_CLOSE.finditer(text))
    if closing:
        text = text[closing[-1].end() :]
    opening = _OPEN.search(text)
    if opening:
        text = text[: opening.start()]
    if had and not text.strip():
        raise ReplyParseError(
            "the reply holds only reasoning (a <think> block) and no answer: give the answer after the reasoning"
        )
    return text


def check_fences_closed(text: str) -> None:
    """Raise ``ReplyParseError`` when a fence never closes (the reply stopped in the middle of code)."""
    unclosed = [fence for fence in find_fences(text.split("\n")) if not fence.closed]
    if unclosed:
        raise ReplyParseError(
            f"the ``` fence opened on line {unclosed[0].open_index + 1} of the reply is never closed, so its code "
            "may be unfinished: close every fence"
        )
