"""From what one task run recorded to a ``TaskRun``: which reply passed, where each failed, what it cost.

A run has at most two replies (the pipeline re-asks once: for a reply it cannot parse, or with the gates' findings).
Each reply is judged on its own: a reply that was parsed and gated and accepted is then run against the task's hidden
checks (``bot.bakeoff.hidden``); a review reply must also have a comment on the seeded bug's line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.bakeoff.hidden import HiddenResult
from bot.bakeoff.record import ErrorEvent, Event, GatesEvent, ReplyEvent
from bot.bakeoff.results import MAX_TEXT, RawRun, TaskRun, Try
from bot.bakeoff.tasks import Task
from bot.errors import ReplyParseError
from bot.parse import parse_reply
from bot.types import Attempt, ReviewComment, Suggestion

HiddenCheck = Callable[[str], HiddenResult]  # patch -> result (cached per patch by the caller)
GATE_STAGES = ("apply", "paths", "ruff", "tests")


@dataclass
class _Round:
    reply: ReplyEvent | None = None
    error: ErrorEvent | None = None
    gates: GatesEvent | None = None


def rounds(events: list[Event]) -> list[_Round]:
    """The events grouped by reply: a reply (or a model error) opens a round; a gate run belongs to the last one."""
    out: list[_Round] = []
    for event in events:
        if isinstance(event, ReplyEvent):
            out.append(_Round(reply=event))
        elif isinstance(event, ErrorEvent):
            out.append(_Round(error=event))
        elif out:
            out[-1].gates = event
    return out


def error_stage(kind: str) -> str:
    return {"ContextOverflow": "context", "ModelTimeout": "timeout"}.get(kind, "error")


def gate_stage(name: str | None) -> str:
    """The stage for the first gate that did not pass (another configured command counts as ``tests``)."""
    if name and "effect" in name:
        return "no effect"
    return name if name in GATE_STAGES else "tests"


def landed(comments: tuple[ReviewComment, ...], task: Task) -> bool:
    """A comment's range covers the seeded bug's line (same file)."""
    bug = task.bug
    if bug is None:
        return False
    return any(c.path == bug.path and (c.start_line or c.line) <= bug.line <= c.line for c in comments)


def patch_size(patch: str) -> tuple[int, int]:
    """(lines changed, files changed) of a unified diff: added plus removed lines, and ``diff --git`` headers."""
    lines = [line for line in patch.splitlines() if not line.startswith(("+++", "---"))]
    changed = sum(1 for line in lines if line.startswith(("+", "-")))
    files = len(re.findall(r"^diff --git ", patch, re.M)) or len(re.findall(r"^\+\+\+ ", patch, re.M))
    return changed, files


class Judge:
    """Judges the replies of one task run; ``read_file``/``pr_diff`` re-parse a review reply for its comments."""

    def __init__(self, task: Task, hidden: HiddenCheck, read_file: Callable[[str], str | None], pr_diff: str) -> None:
        self.task, self.hidden, self.read_file, self.pr_diff = task, hidden, read_file, pr_diff
        self.last_hidden = ""

    def _comments(self, reply: str) -> tuple[ReviewComment, ...]:
        try:
            return parse_reply("review", reply, self.read_file, pr_diff=self.pr_diff).suggestion.comments
        except ReplyParseError:
            return ()

    def _accepted(self, patch: str, reply: str) -> Try:
        if not patch.strip():  # a review with comments but no code: nothing to fix the bug with
            return Try(False, "missed" if not landed(self._comments(reply), self.task) else "no effect")
        result = self.hidden(patch)
        self.last_hidden = result.summary
        if not result.passed:
            return Try(False, "no effect" if result.no_effect else "hidden")
        if self.task.purpose == "review" and not landed(self._comments(reply), self.task):
            return Try(False, "missed")
        return Try(True)

    def round(self, item: _Round, *, last: bool, attempt: Attempt | None) -> Try:
        self.last_hidden = ""
        if item.error is not None:
            return Try(False, error_stage(item.error.kind))
        assert item.reply is not None
        if item.gates is not None:
            verdict = item.gates.verdict
            if not verdict.accepted:
                return Try(False, gate_stage(verdict.reason))
            return self._accepted(item.gates.patch, item.reply.completion.text)
        if not last or attempt is None:
            return Try(False, "parse")
        if attempt.status == "accepted":  # a review whose comments carry no code
            return self._accepted("", item.reply.completion.text)
        return Try(False, "parse" if attempt.reason and "parse: " in attempt.reason else "error")


def attempt_stage(attempt: Attempt | None) -> str:
    """The stage of an attempt that never got a reply: a prompt too long, or a model that could not be built."""
    if attempt is not None and attempt.status == "skipped":
        return "context"
    if attempt is not None and attempt.reason and "ModelTimeout" in attempt.reason:
        return "timeout"
    return "error"


def task_run(
    *,
    model: str,
    task: Task,
    repeat: int,
    events: list[Event],
    attempt: Attempt | None,
    judge: Judge,
    raw: RawRun | None,
) -> TaskRun:
    """The TaskRun of one model on one task from its events and the pipeline's Attempt."""
    grouped = rounds(events)
    if grouped:
        judged = [judge.round(r, last=i == len(grouped) - 1, attempt=attempt) for i, r in enumerate(grouped)]
    else:
        judged = [Try(False, attempt_stage(attempt))]
    replies = [r.reply for r in grouped if r.reply is not None]
    suggestion: Suggestion | None = attempt.suggestion if attempt else None
    lines, files = patch_size(suggestion.patch) if suggestion else (0, 0)
    final_landed = None
    if task.purpose == "review":
        final_landed = bool(suggestion) and landed(suggestion.comments if suggestion else (), task)
    return TaskRun(
        model=model,
        task=task.id,
        kind=task.kind,
        purpose=task.purpose,
        repeat=repeat,
        first=judged[0],
        final=judged[-1],
        well_formed=bool(grouped) and grouped[0].reply is not None and judged[0].stage != "parse",
        status=attempt.status if attempt else "error",
        reason=attempt.reason if attempt else "the model was not asked",
        replies=len(replies),
        latencies=tuple(round(r.seconds, 4) for r in replies),
        prompt_tokens=sum(r.completion.prompt_tokens for r in replies),
        completion_tokens=sum(r.completion.completion_tokens for r in replies),
        truncated=any(r.completion.finish_reason == "length" for r in replies),
        context_exhausted=any(t.stage == "context" for t in judged),
        lines_changed=lines,
        files_changed=files,
        comments=len(suggestion.comments) if suggestion else 0,
        landed=final_landed,
        hidden=judge.last_hidden,
        raw=raw,
        texts=tuple(r.completion.text[:MAX_TEXT] for r in replies),
    )
