"""Chat messages for a purpose, cut to fit the model's context in a fixed order and saying what was cut.

The prompt texts live in ``review.txt``, ``patch.txt`` and ``retry.txt`` (the system part, a ``==== user ====``
line, then the user part with ``$title``, ``$body``, ``$diff`` and ``$files``). When the messages do not fit
``budget_tokens`` they are cut, in this order, until they do: contents of files the diff does not touch (largest
first), the diff's context lines (2, 1, then 0), changed files' contents (down to the lines around the changes),
the PR description, changed files' contents altogether. If even that does not fit, ``ContextOverflow``: the
server never gets a prompt it would truncate silently.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from string import Template

from bot.errors import ContextOverflow
from bot.parse.diff import FileDiff, parse_diff, reduce_context
from bot.types import ChatMessage, Purpose

MESSAGE_OVERHEAD = 8  # tokens a chat template adds around each message (role markers, separators)
_USER_MARK = "==== user ===="
_CONTEXTS = (2, 1, 0)
_WINDOWS = (20, 10, 5, 2)
_BODY_CHARS = 500


@dataclass(frozen=True)
class PromptBuild:
    """The messages to send, and what was cut to fit (``None`` when nothing was)."""

    messages: tuple[ChatMessage, ...]
    cut: str | None = None
    tokens: int = 0  # as counted by the caller's ``count_tokens``, plus MESSAGE_OVERHEAD per message


def prompt_hash(messages: Sequence[ChatMessage]) -> str:
    """sha256 of the messages as canonical JSON: the same prompt always gives the same hash, for the audit log."""
    data = [{"content": m.content, "role": m.role} for m in messages]
    canonical = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_prompt(name: str) -> str:
    """The text of ``bot/prompts/<name>.txt`` (package data)."""
    return resources.files("bot.prompts").joinpath(f"{name}.txt").read_text(encoding="utf-8")


def build_messages(
    purpose: Purpose,
    *,
    pr_title: str,
    pr_body: str,
    diff: str,
    files: Mapping[str, str],
    budget_tokens: int,
    count_tokens: Callable[[str], int],
    retry_reason: str | None = None,
    previous_reply: str | None = None,
) -> PromptBuild:
    """The system and user messages for ``purpose``, cut to ``budget_tokens`` (see the module docstring).

    ``files`` maps paths to their text at the PR head (changed files, and any others worth showing).
    ``retry_reason`` (with the ``previous_reply``) makes the re-ask form: the reply as an assistant message, then
    a user message saying why it could not be used. Raises ``ContextOverflow`` when nothing cut makes it fit.
    """
    system, user = _split(load_prompt(purpose), purpose)
    parsed = parse_diff(diff)
    in_diff = {f.new_path for f in parsed if f.new_path} | {f.old_path for f in parsed if f.old_path}
    tail: list[ChatMessage] = []
    if previous_reply is not None:
        tail.append(ChatMessage("assistant", previous_reply))
    if retry_reason is not None:
        tail.append(ChatMessage("user", Template(load_prompt("retry")).substitute(reason=retry_reason).strip()))
    material = _Material(purpose, pr_title, pr_body, diff, parsed, files)
    first = _View(files=tuple(files))
    tokens, view = 0, first
    for view in itertools.chain([first], _cuts(first, files, in_diff, pr_body)):
        messages = (ChatMessage("system", system), ChatMessage("user", material.render(user, view)), *tail)
        tokens = sum(count_tokens(m.content) for m in messages) + MESSAGE_OVERHEAD * len(messages)
        if tokens <= budget_tokens:
            return PromptBuild(messages, view.cut(), tokens)
    raise ContextOverflow(
        f"the {purpose} prompt needs {tokens} tokens even cut down ({view.cut()}), budget {budget_tokens}: "
        "the PR's diff is too large for this model's context; pick a model with a longer context or split the PR"
    )


def _split(text: str, name: str) -> tuple[str, str]:
    system, mark, user = text.partition(f"\n{_USER_MARK}\n")
    if not mark:
        raise ValueError(f"bot/prompts/{name}.txt has no {_USER_MARK!r} line between the system and user parts")
    return system.strip(), user.strip()


def _fence(text: str, info: str = "") -> str:
    """``text`` in a fence longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    ticks = "`" * (longest + 1)
    return f"{ticks}{info}\n{text.rstrip(chr(10))}\n{ticks}"


@dataclass(frozen=True)
class _Material:
    purpose: Purpose
    title: str
    body: str
    diff: str
    parsed: Sequence[FileDiff]
    files: Mapping[str, str]

    def render(self, template: str, view: _View) -> str:
        diff = self.diff if view.context is None else reduce_context(self.parsed, view.context)
        numbered = self.purpose == "review"
        shown = []
        for path in view.files:
            text = _show_file(self.files[path], _changed_lines(self.parsed, path), view.window, numbered=numbered)
            shown.append(f"{path}\n{_fence(text)}")
        files = ""
        if shown:
            heading = "Files at the pull request's head" + (" (with line numbers)" if numbered else "")
            files = f"\n{heading}:\n\n" + "\n\n".join(shown) + "\n"
        body = self.body[:_BODY_CHARS] + " [...]" if view.body_cut else self.body
        return Template(template).substitute(
            title=self.title.strip() or "(no title)", body=body.strip(), diff=_fence(diff, "diff"), files=files
        )


# --- what goes in, and how it is cut -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _View:
    """One state of the cutting: which files are still shown, and how much of everything."""

    files: tuple[str, ...]  # paths whose contents are shown, in the caller's order
    context: int | None = None  # diff context lines; None: the diff as given
    window: int | None = None  # lines shown around each change of a changed file; None: whole files
    body_cut: bool = False
    outside_dropped: int = 0
    changed_dropped: int = 0

    def cut(self) -> str | None:
        notes = []
        if self.outside_dropped:
            notes.append(f"contents of {_count(self.outside_dropped, 'file')} not in the diff omitted")
        if self.context is not None:
            notes.append(f"diff context reduced to {_count(self.context, 'line')}")
        if self.window is not None:
            notes.append(f"changed files cut to {self.window} lines around the changes")
        if self.body_cut:
            notes.append(f"PR description cut to {_BODY_CHARS} characters")
        if self.changed_dropped:
            notes.append(f"contents of {_count(self.changed_dropped, 'changed file')} omitted")
        return "; ".join(notes) or None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _cuts(view: _View, files: Mapping[str, str], in_diff: set[str], body: str) -> Iterator[_View]:
    """Ever smaller views, in the documented order."""
    outside = sorted((p for p in view.files if p not in in_diff), key=lambda p: -len(files[p]))
    for path in outside:
        view = replace(view, files=tuple(p for p in view.files if p != path), outside_dropped=view.outside_dropped + 1)
        yield view
    for context in _CONTEXTS:
        view = replace(view, context=context)
        yield view
    for window in _WINDOWS:
        view = replace(view, window=window)
        yield view
    if len(body) > _BODY_CHARS:
        view = replace(view, body_cut=True)
        yield view
    for path in sorted(view.files, key=lambda p: -len(files[p])):
        view = replace(view, files=tuple(p for p in view.files if p != path), changed_dropped=view.changed_dropped + 1)
        yield view


def _changed_lines(parsed: Sequence[FileDiff], path: str) -> list[int]:
    lines: list[int] = []
    for file in parsed:
        if file.new_path == path:
            for hunk in file.hunks:
                lines.extend(hunk.added_lines() or [max(hunk.new_start, 1)])  # a pure deletion: where it was
    return lines


def _show_file(text: str, changed: Sequence[int], window: int | None, *, numbered: bool) -> str:
    """The file as the model sees it: maybe with line numbers, maybe only the lines around the changes."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    numbers = list(range(1, len(lines) + 1))
    if window is not None and changed:
        near = {n for c in changed for n in range(c - window, c + window + 1)}
        near |= {n for n in numbers if n - 1 in near and n + 1 in near}  # a one-line gap costs more than the line
        numbers = [n for n in numbers if n in near]
    out: list[str] = []
    previous = 0
    for number in numbers:
        if number > previous + 1:
            out.append(f"... (lines {previous + 1}-{number - 1} not shown)")
        out.append(f"{number:>4}| {lines[number - 1]}" if numbered else lines[number - 1])
        previous = number
    if previous < len(lines):
        out.append(f"... (lines {previous + 1}-{len(lines)} not shown)")
    return "\n".join(out)
