"""What the checks work on (``Subject``), what they say (``Finding``), and how a difference is shown and explained."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot.templates import ChatTemplate, TemplateRefused, builtin
from bot.templates.check.runtime import Generation, Runtime
from bot.types import ChatMessage, ModelSpec

Status = Literal["pass", "warn", "fail", "skip"]
CHECK_NAMES = {
    1: "rendering",
    2: "tokenization",
    3: "generation prompt and system prompt",
    4: "stop probes",
    5: "raw completion equals chat completion",
    6: "greedy decode across runtimes",
    7: "context",
}
QUICK = (1, 2, 3)
# Role and turn markers of common templates: in a reply, they mean the stop token did not stop it.
ROLE_MARKERS = (
    "<|im_start|>",
    "<|im_end|>",
    "<|eot_id|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|endoftext|>",
    "<|user|>",
    "<|assistant|>",
    "<start_of_turn>",
    "<end_of_turn>",
    "[INST]",
    "[/INST]",
    "</s>",
)
REASONING_MARKERS = ("<think>", "</think>", "<|channel|>analysis", "<reasoning>")
SPECIAL_PATTERN = re.compile(r"<\|[^|<>\s]{1,40}\|>")


@dataclass(frozen=True)
class Finding:
    """One check's result for one model on one runtime."""

    check: int
    status: Status
    message: str
    diff: str = ""

    @property
    def name(self) -> str:
        return CHECK_NAMES[self.check]


@dataclass
class Subject:
    """One policy model on the runtime that serves it, with the template Guardrail renders for it."""

    name: str
    spec: ModelSpec
    runtime: Runtime
    reference: ChatTemplate | None  # what Guardrail renders (pinned or the GGUF's); None: the server renders
    reference_origin: str  # where the reference comes from, for the report
    raw: bool  # Guardrail sends this model raw prompts
    count_tokens: Callable[[Sequence[ChatMessage]], int]  # Guardrail's prompt token count
    exact_count: bool
    generations: dict[tuple[str, str], Generation] = field(default_factory=dict)  # (path, probe name) -> reply


def visible_diff(expected: str, actual: str, *, left: str = "guardrail", right: str = "runtime") -> str:
    """A unified diff of two prompts, each line shown with its escapes (``\\n``, ``\\t``) so whitespace shows."""

    def lines(text: str) -> list[str]:
        return [repr(line)[1:-1] + "\n" for line in text.splitlines(keepends=True)] or ["\n"]

    return "".join(difflib.unified_diff(lines(expected), lines(actual), left, right, n=1)).rstrip("\n")


def leading(text: str, token: str) -> int:
    """How many times ``token`` repeats at the start of ``text``."""
    count = 0
    while token and text.startswith(token * (count + 1)):
        count += 1
    return count


def explain(
    expected: str, actual: str, reference: ChatTemplate, messages: Sequence[ChatMessage], add_generation_prompt: bool
) -> str:
    """The likely cause of a difference between Guardrail's rendering (``expected``) and the runtime's."""
    bos = reference.bos_token
    counts = (leading(expected, bos), leading(actual, bos)) if bos else (0, 0)
    if max(counts) > 1:
        side = "the runtime's" if counts[1] > counts[0] else "Guardrail's"
        return f"doubled BOS: {side} rendering starts with {max(counts)} {bos!r}"
    if "<|im_start|>" not in expected and actual == _chatml(messages, add_generation_prompt):
        return (
            "the runtime fell back to ChatML: it does not know this model's template (llama-server: start it with "
            "--jinja; Ollama: give the model a TEMPLATE)"
        )
    if counts[0] != counts[1] and expected.removeprefix(bos) == actual.removeprefix(bos):
        side = "the runtime's" if counts[1] < counts[0] else "Guardrail's"
        return f"missing BOS: {side} rendering does not start with {bos!r}"
    if actual.startswith(expected):
        extra = actual[len(expected) :]
        cause = "Guardrail's template drops the generation prompt" if add_generation_prompt else "the runtime adds it"
        return f"the runtime's rendering goes on with {extra!r}: {cause}"
    if expected.startswith(actual):
        extra = expected[len(actual) :]
        cause = "the runtime's template leaves the generation prompt off" if add_generation_prompt else "extra text"
        return f"Guardrail's rendering goes on with {extra!r}: {cause}"
    if actual.endswith(expected):
        prefix = actual[: len(actual) - len(expected)]
        what = "a default system prompt" if "system" in prefix else "a prefix"
        return f"the runtime's template adds {what} that Guardrail's drops: {prefix!r}"
    if expected.endswith(actual):
        prefix = expected[: len(expected) - len(actual)]
        what = "a default system prompt" if "system" in prefix else "a prefix"
        return f"Guardrail's template adds {what} that the runtime's does not: {prefix!r}"
    at = next(
        (i for i, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b), min(len(expected), len(actual))
    )
    return f"the renderings differ from byte {at}: {expected[at : at + 30]!r} vs {actual[at : at + 30]!r}"


def _chatml(messages: Sequence[ChatMessage], add_generation_prompt: bool) -> str:
    try:
        return builtin("chatml").render(messages, add_generation_prompt=add_generation_prompt)
    except TemplateRefused:
        return ""


def markers_in(text: str, extra: Sequence[str] = ()) -> list[str]:
    """Role markers and reasoning tags found in a reply."""
    found = [m for m in (*ROLE_MARKERS, *extra) if m and m in text]
    return sorted(set(found))
