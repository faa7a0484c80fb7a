"""Unified diffs as models really write them, applied to the PR head's files by content, not by line numbers.

Models get the ``@@`` counts wrong, drop the ``diff --git`` line or the ``a/``/``b/`` prefixes, strip the space of
empty context lines, wrap the diff in prose and invent or re-indent context. So the counts are ignored: each hunk's
old lines are looked up in the file (exactly, then loosely, then with invented context trimmed from its edges),
replaced, and the clean patch is written afterwards by ``make_patch``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.errors import ReplyParseError
from bot.parse.diff import split_lines
from bot.parse.indent import fit
from bot.parse.workspace import (
    Fence,
    Match,
    Workspace,
    closest_line_hint,
    eol_of,
    find_block,
    indent_char,
    join_lines,
    reindent,
)

_HUNK_START = re.compile(r"^@@\s*-(\d+)")
_MAX_TRIM = 3  # context lines that may be cut from each edge of a hunk that does not match as written
_DIFF_INFOS = ("diff", "patch", "udiff")


@dataclass
class _Hunk:
    hint: int | None  # 1-based old start line when the header had one
    lines: list[str] = field(default_factory=list)  # each with its prefix: " ", "+" or "-"

    @property
    def changes(self) -> bool:
        return any(line[:1] in ("+", "-") for line in self.lines)


@dataclass
class _File:
    old: str | None = None
    new: str | None = None
    deleted: bool = False
    hunks: list[_Hunk] = field(default_factory=list)


def looks_like_diff(lines: Sequence[str], fences: Sequence[Fence]) -> bool:
    if any(fence.info.split()[:1] and fence.info.split()[0].lower() in _DIFF_INFOS for fence in fences):
        return True
    for i, line in enumerate(lines):
        if (line.startswith("@@") and line.rstrip().endswith("@@")) or _HUNK_START.match(line):
            return True
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            return True
    return False


def _diff_lines(lines: Sequence[str], fences: Sequence[Fence]) -> list[str]:
    """The lines to read as a diff: the ```diff fences if there are any, else the whole reply."""
    chosen = [fence for fence in fences if fence.info.split()[:1] and fence.info.split()[0].lower() in _DIFF_INFOS]
    if not chosen:
        return list(lines)
    out: list[str] = []
    for fence in chosen:
        out.extend([*fence.lines, "```"])  # the fence line ends a hunk that runs to the end of the fence
    return out


def _read(lines: Sequence[str]) -> list[_File]:
    files: list[_File] = []
    current: _File | None = None
    hunk: _Hunk | None = None
    skip = False
    for i, line in enumerate(lines):
        if skip:
            skip = False
            continue
        if line.startswith("diff --git "):
            current, hunk = _File(), None
            files.append(current)
        elif line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            if current is None or current.hunks:
                current = _File()
                files.append(current)
            current.old, current.new, hunk, skip = line[4:].split("\t")[0], lines[i + 1][4:].split("\t")[0], None, True
        elif line.startswith("deleted file mode") and current is not None:
            current.deleted = True
        elif line.startswith("@@"):
            if current is None:
                current = _File()
                files.append(current)
            start = _HUNK_START.match(line)
            hunk = _Hunk(int(start[1]) if start else None)
            current.hunks.append(hunk)
        elif current is not None and _headers_without_hunk(current, hunk) and line[:1] in ("+", "-"):
            hunk = _Hunk(None, [line])  # a model that wrote the file headers but no @@ line
            current.hunks.append(hunk)
        elif hunk is not None and (line[:1] in (" ", "+", "-") or line == ""):
            hunk.lines.append(line or " ")
        elif hunk is not None and not line.startswith("\\"):
            hunk = None  # prose or a closing fence ends the hunk
    for file in files:
        for each in file.hunks:
            while each.lines and each.lines[-1].strip() == "":  # blank lines after the diff are not context
                each.lines.pop()
    return files


def _headers_without_hunk(current: _File, hunk: _Hunk | None) -> bool:
    return hunk is None and current.new is not None and not current.hunks


def apply_unified_diff(space: Workspace, lines: Sequence[str], fences: Sequence[Fence]) -> str:
    """Apply every file of the diff in ``lines``; returns the edit format name. Raises ``ReplyParseError``."""
    files = [file for file in _read(_diff_lines(lines, fences)) if file.hunks or file.deleted]
    if not files:
        raise ReplyParseError("the diff has no hunks: write each change as an @@ hunk with -removed and +added lines")
    repeated = 0
    for file in files:
        raw = file.new if file.new not in (None, "/dev/null") else file.old
        if raw in (None, "/dev/null"):
            raw = space.single_pr_path()
        if raw is None:
            raise ReplyParseError("the diff names no file: start it with --- a/<path> and +++ b/<path> lines")
        path = space.resolve(raw, "the diff")
        if file.deleted or file.new == "/dev/null":
            if not space.exists(path):
                raise ReplyParseError(f"the diff deletes {path}, which does not exist at the PR head")
            space.set_text(path, None)
            continue
        text = space.text(path)
        if text is None or file.old == "/dev/null":
            added = [line[1:] for hunk in file.hunks for line in hunk.lines if line[:1] in ("+", " ")]
            if text is not None and _echoes(text, added):
                raise ReplyParseError(
                    f"the diff creates {path}, which already exists with those lines (the pull request's own diff "
                    "repeated?): give only your change, as SEARCH/REPLACE blocks against the file as it is now"
                )
            space.set_text(path, "\n".join(added) + "\n")
            continue
        new_text, file_repeated = _apply_hunks(path, text, file.hunks)
        space.set_text(path, new_text)
        repeated += file_repeated
    if repeated and space.patch() == "":
        raise ReplyParseError(
            "the diff repeats changes the files already have (the pull request's own diff?): propose a new change"
        )
    return "unified-diff"


def _echoes(text: str, added: Sequence[str]) -> bool:
    """A "new file" diff for a file that exists, adding no line the file does not already have: the PR's own diff
    (shown in the prompt) copied back, not a replacement of the file. Seen from small models (SmolLM2 in the bakeoff,
    on pull requests that add a file)."""
    existing = {line.strip() for line in text.splitlines()}
    return all(line.strip() in existing for line in added)


def _already_there(lines: Sequence[str], hunk: _Hunk) -> bool:
    """The hunk's result is in the file and its old lines are not: applying it again would duplicate code."""
    old = [line[1:] for line in hunk.lines if line[:1] in (" ", "-")]
    new = [line[1:] for line in hunk.lines if line[:1] in (" ", "+")]
    if not any(line[:1] == "+" for line in hunk.lines) or find_block(lines, new, loosest=1) is None:
        return False
    return not old or find_block(lines, old, loosest=1) is None


def _apply_hunks(path: str, text: str, hunks: Sequence[_Hunk]) -> tuple[str, int]:
    """The file with the hunks applied, and how many hunks were skipped because the file already had them."""
    lines = split_lines(text)
    eol, shift, previous_end, repeated = eol_of(text), 0, 0, 0
    for number, written in enumerate(hunks, start=1):
        if not written.changes:
            continue
        bodies = fit([line[1:] for line in written.lines], lines)  # in the file's indentation style
        hunk = _Hunk(written.hint, [line[:1] + body for line, body in zip(written.lines, bodies, strict=True)])
        if _already_there(lines, hunk):
            repeated += 1
            continue
        hint = hunk.hint - 1 + shift if hunk.hint else previous_end
        old = [line[1:] for line in hunk.lines if line[:1] in (" ", "-")]
        if not old:  # a pure insertion: only the header's line number says where
            if hunk.hint is None and lines:
                raise ReplyParseError(
                    f"hunk {number} for {path} only adds lines and has no context: include 3 unchanged lines around it"
                )
            at = min(max(hint + 1, 0), len(lines)) if hunk.hint else 0
            found, body = Match(at, 0), tuple(hunk.lines)
        else:
            located = _locate(lines, hunk.lines, hint)
            if located is None:
                wanted = next((line[1:] for line in hunk.lines if line[:1] == "-"), old[0])
                raise ReplyParseError(
                    f"hunk {number} for {path} does not match the file: line {wanted.strip()!r} was not found"
                    f"{closest_line_hint(lines, wanted)}; copy unchanged and removed lines exactly from the file"
                )
            found, body = located
        new, consumed = _replacement(lines, found, body, eol)
        lines[found.start : found.start + consumed] = new
        shift += len(new) - consumed
        previous_end = found.start + len(new)
    return join_lines(lines, eol), repeated


def _locate(lines: Sequence[str], body: Sequence[str], hint: int) -> tuple[Match, tuple[str, ...]] | None:
    """Find the hunk's old lines, trimming context from its edges (models invent context) until they match."""
    changed = [i for i, line in enumerate(body) if line[:1] in ("+", "-")]
    first, last = changed[0], changed[-1]
    spans = [
        (lo, hi)
        for lo in range(min(first, _MAX_TRIM) + 1)
        for hi in range(max(last + 1, len(body) - _MAX_TRIM), len(body) + 1)
    ]
    trims = sorted(spans, key=lambda span: (span[0] + len(body) - span[1], span[0]))  # least context cut first
    for lo, hi in trims:
        part = body[lo:hi]
        old = [line[1:] for line in part if line[:1] in (" ", "-")]
        if not old:
            continue
        match = find_block(lines, old, hint=hint)
        if match is not None:
            return match, tuple(part)
    return None


def _replacement(lines: Sequence[str], found: Match, body: Sequence[str], eol: str) -> tuple[list[str], int]:
    """The new lines for the matched region (context kept as the file has it) and how many old lines they replace."""
    out: list[str] = []
    j = found.start
    for line in body:
        kind, rest = line[:1], line[1:]
        if kind == " ":
            out.append(lines[j])
            j += 1
        elif kind == "-":
            j += 1
        else:
            out.append(reindent([rest], found.indent_delta, indent_char(lines))[0] + eol)
    consumed = j - found.start
    at_end = j == len(lines) and lines and not lines[-1].endswith("\n")
    if at_end and out and body[-1][:1] == "+":  # keep "no newline at end of file" as the file had it
        out[-1] = out[-1].rstrip("\r\n")
    return out, consumed
