"""The effective change (``git diff`` of the head against the gated tree) read as exact line replacements.

Everything Guardrail posts is derived from this one value: a review comment's suggestion is the new text of the
lines it covers, a patch's suggestions are its hunks. The hunks of git's diff carry the files' exact bytes (a
``\\r`` of a CRLF line stays in the line; ``\\ No newline at end of file`` says which line lacks its ``\\n``), so the
texts here are exact: ``old`` and ``new`` include every line ending.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from bot.parse.diff import FileDiff, Hunk, parse_diff, split_lines
from bot.types import Suggestion


@dataclass(frozen=True)
class Change:
    """Old lines ``start``..``start + count - 1`` (1-based; ``count`` 0: an insertion before line ``start``) become
    ``new`` (exact text). ``old`` is the exact text of the old lines."""

    start: int
    count: int
    old: str
    new: str

    @property
    def end(self) -> int:
        """The last old line it replaces (``start - 1`` for an insertion)."""
        return self.start + self.count - 1


def _exact(hunk: Hunk) -> list[tuple[str, str]]:
    """``(kind, text with its line ending)`` for each line of the hunk; a ``\\`` marker removes the ``\\n``."""
    rows: list[tuple[str, str]] = []
    for line in hunk.lines:
        if line.startswith("\\"):
            if rows:
                rows[-1] = (rows[-1][0], rows[-1][1].removesuffix("\n"))
            continue
        rows.append((line[:1], line[1:] + "\n"))
    return rows


def hunk_changes(hunk: Hunk) -> list[Change]:
    """The hunk's runs of removed and added lines, each as one Change."""
    changes: list[Change] = []
    old_no = hunk.old_start if hunk.old_len else hunk.old_start + 1
    run_start, old, new = old_no, "", ""
    for kind, text in [*_exact(hunk), (" ", "")]:
        if kind == "-":
            old += text
        elif kind == "+":
            new += text
        if kind == " " and (old or new):
            changes.append(Change(run_start, len(split_lines(old)), old, new))
            old, new = "", ""
        if kind in (" ", "-"):
            old_no += 1
        if kind == " ":
            run_start = old_no
    return changes


def file_changes(patch: str) -> dict[str, tuple[FileDiff, list[Change]]]:
    """Each file of the patch (by its path) and its changes, in order."""
    return {file.path: (file, [c for hunk in file.hunks for c in hunk_changes(hunk)]) for file in parse_diff(patch)}


def region(
    old_lines: Sequence[str], changes: Sequence[Change], start: int, end: int, *, first: int = 1
) -> tuple[str, str]:
    """The exact old text of lines ``start``..``end`` and their new text once ``changes`` (all inside that range)
    are made. ``old_lines`` are the old file's lines with endings, ``old_lines[0]`` being line ``first``."""

    def take(a: int, b: int) -> str:  # old lines a..b-1
        return "".join(old_lines[a - first : b - first])

    out, at = "", start
    for change in sorted(changes, key=lambda c: (c.start, c.count)):
        out += take(at, change.start) + change.new
        at = change.start + change.count
    return take(start, end + 1), out + take(at, end + 1)


def hunk_old_lines(hunk: Hunk) -> tuple[int, list[str]]:
    """The hunk's old-side lines (context and removed, exact) and the number of the first one."""
    first = hunk.old_start if hunk.old_len else hunk.old_start + 1
    return first, [text for kind, text in _exact(hunk) if kind in (" ", "-")]


def inside(change: Change, start: int, end: int) -> bool:
    """True when the change lies within lines ``start``..``end`` (an insertion may sit just before or after them)."""
    if change.count == 0:
        return start <= change.start <= end + 1
    return start <= change.start and change.end <= end


def _gaps(count: int, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The 1-based line ranges ``[a, b)`` outside ``spans`` (sorted, disjoint, inclusive); ``count`` lines in all."""
    gaps, at = [], 1
    for start, end in spans:
        gaps.append((at, start))
        at = end + 1
    return [*gaps, (at, count + 1)]


def split_new(
    old_lines: Sequence[str], new_lines: Sequence[str], spans: Sequence[tuple[int, int]], hints: Sequence[int]
) -> list[str] | None:
    """The new text of each span (sorted, disjoint, 1-based inclusive line ranges of the old file) such that the
    lines outside the spans stay as they are and the whole becomes ``new_lines``; None when there is no such split.
    ``hints`` are the expected 0-based positions of the gaps after the first in ``new_lines`` (tried nearest first)."""
    gaps = [list(old_lines[a - 1 : b - 1]) for a, b in _gaps(len(old_lines), spans)]

    def fits(gap: list[str], at: int) -> bool:
        return list(new_lines[at : at + len(gap)]) == gap

    @functools.cache
    def place(index: int, at: int) -> list[int] | None:  # start of gaps[index:] in new_lines, from ``at`` on
        gap = gaps[index]
        if index == len(gaps) - 1:
            at_end = len(new_lines) - len(gap)
            return [at_end] if at_end >= at and fits(gap, at_end) else None
        for where in sorted(range(at, len(new_lines) - len(gap) + 1), key=lambda w: (abs(w - hints[index - 1]), w)):
            if fits(gap, where) and (rest := place(index + 1, where + len(gap))) is not None:
                return [where, *rest]
        return None

    if not spans:
        return [] if list(new_lines) == gaps[0] else None
    starts = place(1, len(gaps[0])) if fits(gaps[0], 0) else None
    if starts is None:
        return None
    ends = [0, *starts]
    return ["".join(new_lines[ends[i] + len(gaps[i]) : starts[i]]) for i in range(len(spans))]


def gated(suggestion: Suggestion, effective: str, read_file: Callable[[str], str | None]) -> Suggestion | str:
    """The suggestion as the gates checked it: its patch is the effective change, and each review comment's
    replacement is the exact new text of its lines read from that change (``original``: their text at the head).

    The lines no comment covers must come out of the change as they were, and each comment's lines become what
    stands between them in the gated file (a diff may show an edit of one line of two equal ones as the other's).
    Returns the reason instead when that is not so (then what a maintainer would commit from the comments is not
    what was checked). ``read_file`` gives a file at the head, lossless (undecodable bytes as surrogate escapes).
    """
    if suggestion.purpose == "patch":
        return replace(suggestion, patch=effective)
    per_file = file_changes(effective)
    new_text: dict[tuple[str, int, int], tuple[str, str]] = {}
    paths = {c.path for c in suggestion.comments if c.replacement is not None}
    stray = sorted(set(per_file) - paths)
    if stray:
        return f"the gated change touches {stray[0]}, on which no comment has a suggestion"
    for path in paths:
        text = read_file(path)
        if text is None:
            return f"{path} is not a file at the head"
        old_lines = split_lines(text)
        changes = per_file.get(path, (None, []))[1]
        gated_lines = split_lines(region(old_lines, changes, 1, len(old_lines))[1])
        spans = sorted(
            {
                (c.start_line or c.line, c.line)
                for c in suggestion.comments
                if c.path == path and c.replacement is not None
            }
        )
        # where each gap after a span is expected in the gated file: its old place, shifted by the changes before it
        hints = [end + sum(len(split_lines(c.new)) - c.count for c in changes if c.start <= end) for _, end in spans]
        parts = split_new(old_lines, gated_lines, spans, hints)
        if parts is None:
            return f"the gated change of {path} touches lines that no comment's suggestion covers"
        for (start, end), part in zip(spans, parts, strict=True):
            new_text[(path, start, end)] = ("".join(old_lines[start - 1 : end]), part)
    comments = []
    for comment in suggestion.comments:
        if comment.replacement is not None:
            old, new = new_text[(comment.path, comment.start_line or comment.line, comment.line)]
            comment = replace(comment, replacement=new, original=old)
        comments.append(comment)
    return replace(suggestion, patch=effective, comments=tuple(comments))
