"""Replies that are damaged, not just sloppy: cut off, unfinished, or nothing but the model thinking aloud.

Tolerance stops here. A reply cut off at the output token limit (finish reason ``length``, or any other reason that
says the answer is not whole), a fence that never closes, or a reply with nothing left once its reasoning blocks are
removed is a ``ReplyParseError`` (re-asked once), never "repaired" into code the model did not write. Reasoning
blocks (``<think>...</think>``, ``<thinking>``, ``<reasoning>``, ``<reflection>``, ``<thought>``, with or without
attributes; Magistral's ``[THINK]...[/THINK]``, Kimi's ``◁think▷...◁/think▷``) are dropped before any edit is looked
for, so a draft in them is never gated. Inside a fenced block of the answer such a tag is code, never a reasoning
block: ``s.replace("<think>", "")`` is kept as the model wrote it.
"""

from __future__ import annotations

import re

from bot.errors import ReplyParseError
from bot.parse.workspace import find_fences

_NAMES = "think|thinking|reasoning|reflection|thought"
# an opening or closing reasoning tag; group "close" is set for a closing one
_TAG = re.compile(
    rf"<(?P<close>/)?(?:{_NAMES})(?:\s[^<>\n]*)?>|\[(?P<close2>/)?THINK\]|◁(?P<close3>/)?think▷",
    re.IGNORECASE,
)
_FENCE = re.compile(r"^(`{3,}|~{3,})")  # as bot.parse.workspace.find_fences reads them (stripped lines)
CUT_OFF = (
    "the reply was cut off at the output token limit (finish reason `length`) before it was complete: "
    "answer again with a shorter change and no explanation"
)
# finish reasons that say the reply is whole; "" is a backend that does not say (the other checks still apply)
_COMPLETE = frozenset({"", "stop", "eos", "eos_token", "end_turn", "stop_sequence"})
# finish reasons that say the reply was cut at an output limit (OpenAI, Anthropic, Gemini, TGI/vLLM, passed through
# unmapped by proxies)
_CUT = frozenset({"length", "max_tokens", "max_output_tokens", "model_context_window_exceeded", "max_length"})


def check_finish(finish_reason: str) -> None:
    """Raise ``ReplyParseError`` unless the model says it finished its answer (or says nothing).

    ``finish_reason`` is OpenAI's word (``stop``, ``length``, ...); the backends map theirs to it (Ollama's
    ``done_reason``, Anthropic's ``stop_reason: max_tokens``, llama.cpp's ``finish_reason``). A reason that is not a
    normal stop (``length`` and its synonyms, ``content_filter`` which removes part of the text, ``tool_calls``,
    ``abort``, anything unknown) means the text is not known to be the whole answer: fail closed.
    """
    reason = finish_reason.strip().lower()
    if reason in _COMPLETE:
        return
    if reason in _CUT:
        raise ReplyParseError(CUT_OFF)
    raise ReplyParseError(
        f"the reply ended with finish reason `{finish_reason.strip()}`, not a normal stop, so it may not be the whole "
        "answer: answer again"
    )


def _closing(match: re.Match[str]) -> bool:
    return bool(match["close"] or match["close2"] or match["close3"])


def _stands_alone(line: str, match: re.Match[str]) -> bool:
    """Outside a reasoning block, a tag counts when it starts its line (an opening or closing one) or ends it (a
    closing one: "...so the fix is clear.</think>"); one in the middle of a sentence is being talked about."""
    before, after = line[: match.start()].strip(), line[match.end() :].strip()
    return not before or (_closing(match) and not after)


def strip_reasoning(reply: str) -> str:
    """The reply without its reasoning blocks; ``ReplyParseError`` when nothing else is left.

    Read line by line: outside the answer's fenced blocks, an opening tag at the start of a line starts a reasoning
    block (nested ones count, anywhere) and its closing tag ends it; fences inside reasoning do not count. A tag in
    the middle of a sentence or a JSON string outside a block is text. A closing tag outside any block (the
    chat template opened it in the prompt) drops everything before it; an opening tag that never closes drops
    everything after it (the model never got to its answer). Inside a fence of the answer, tags are code.
    """
    kept: list[str] = []
    depth = 0
    fence: str | None = None
    had = False
    for line in reply.split("\n"):
        if fence is not None:  # inside the answer's code: everything is code
            kept.append(line)
            stripped = line.strip()
            if stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
                fence = None
            continue
        out, at = "", 0
        for match in _TAG.finditer(line):
            if depth == 0 and not _stands_alone(line, match):
                continue  # a tag named in prose or in a JSON string ("drop the <think> blocks"), not one written
            had = True
            if _closing(match):
                if depth == 0:  # the block began before the reply (or before the last stray close): drop it all
                    kept, out = [], ""
                else:
                    depth -= 1
                at = match.end()
            else:
                if depth == 0:
                    out += line[at : match.start()]
                depth += 1
                at = match.end()
        if depth == 0:
            out += line[at:]
            kept.append(out)
            opened = _FENCE.match(out.strip())
            if opened:
                fence = opened[1]
        elif out:
            kept.append(out)
    text = "\n".join(kept)
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
