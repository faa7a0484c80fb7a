"""The effective change (``git diff`` of the head against the gated tree) read as exact line replacements.

Everything Guardrail posts is derived from this one value: a review comment's suggestion is the new text of the
lines it covers, a patch's suggestions are its hunks. The hunks of git's diff carry the files' exact bytes (a
``\\r`` of a CRLF line stays in the line; ``\\ No newline at end of file`` says which line lacks its ``\\n``), so the
texts here are exact: ``old`` and ``new`` include every line ending.
"""

from __future__ import annotations

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


def gated(suggestion: Suggestion, effective: str, read_file: Callable[[str], str | None]) -> Suggestion | str:
    """The suggestion as the gates checked it: its patch is the effective change, and each review comment's
    replacement is the exact new text of its lines read from that change (``original``: their text at the head).

    Returns the reason instead when the effective change holds a change no comment covers (then what a maintainer
    would commit from the comments is not what was checked). ``read_file`` gives a file at the head, lossless
    (undecodable bytes as surrogate escapes).
    """
    if suggestion.purpose == "patch":
        return replace(suggestion, patch=effective)
    per_file = file_changes(effective)
    used: set[tuple[str, int]] = set()
    comments = []
    for comment in suggestion.comments:
        if comment.replacement is None:
            comments.append(comment)
            continue
        start = comment.start_line or comment.line
        _, changes = per_file.get(comment.path, (None, []))
        mine = [
            (i, c) for i, c in enumerate(changes) if (comment.path, i) not in used and inside(c, start, comment.line)
        ]
        used.update((comment.path, i) for i, _ in mine)
        text = read_file(comment.path)
        if text is None:
            return f"{comment.path} is not a file at the head"
        old, new = region(split_lines(text), [c for _, c in mine], start, comment.line)
        comments.append(replace(comment, replacement=new, original=old))
    stray = [
        (path, c) for path, (_, changes) in per_file.items() for i, c in enumerate(changes) if (path, i) not in used
    ]
    if stray:
        path, change = stray[0]
        return f"the gated change touches {path}:{change.start}, which no comment's suggestion covers"
    return replace(suggestion, patch=effective, comments=tuple(comments))
