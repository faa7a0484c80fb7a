"""A review reply: a JSON list of comments on lines of the PR's diff, some carrying replacement code.

Small models write JSON loosely, so this reads a list or a single object, ```json fences or bare JSON, trailing
commas, raw newlines and stray backslashes in strings, Python-style literals, ``"replacement"``/``"code"`` for
``"suggestion"`` and ``"42"`` or ``"40-42"`` for ``line``. A comment is kept only if its lines lie on the new side
of one hunk of the PR's diff (GitHub refuses anything else); others are dropped with the reason.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot.errors import ReplyParseError
from bot.parse.diff import hunk_range_ok, make_patch, new_side_lines, parse_diff, split_lines
from bot.parse.indent import fit, foreign, style_of
from bot.parse.workspace import ReadFile, bare, splice
from bot.types import ReviewComment, Suggestion

_FORMAT_HINT = 'answer with a ```json block holding a list like [{"path": "src/app.py", "line": 12, "body": "..."}]'
_ALIASES = {
    "path": ("path", "file", "filename", "file_path"),
    "line": ("line", "end_line", "line_number", "lines"),
    "start_line": ("start_line", "start", "from_line"),
    "body": ("body", "comment", "message", "text", "description"),
    "replacement": ("suggestion", "replacement", "code", "suggested_code", "fix"),
    "original": ("original", "original_code", "existing", "old_code", "replaces"),
}
_NUMBERED = re.compile(r"^\s*\d+\| ?")
_ESCAPABLE = set('"\\/bfnrtu')
_FENCE_OPEN = re.compile(r"^[ \t]*(`{3,}|~{3,})[^`]*$")


# --- tolerant JSON ----------------------------------------------------------------------------------------------


def _clean_json(text: str) -> str:
    """Drop trailing commas and double stray backslashes, both only outside/inside strings as JSON sees them."""
    out, in_string, i = [], False, 0
    while i < len(text):
        ch = text[i]
        if in_string:
            if ch == "\\":
                nxt = text[i + 1 : i + 2]
                out.append(ch + nxt if nxt in _ESCAPABLE and nxt else "\\\\")
                i += 2 if nxt in _ESCAPABLE and nxt else 1
                continue
            in_string = ch != '"'
        elif ch == '"':
            in_string = True
        elif ch == "," and re.match(r"\s*[\]}]", text[i + 1 :]):
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _balanced(text: str, start: int) -> str | None:
    """The bracketed text starting at ``text[start]``, skipping brackets inside quoted strings."""
    depth, quote, i = 0, "", start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
        i += 1
    return None


def _decode(chunk: str) -> Any:
    try:
        return json.loads(_clean_json(chunk), strict=False)
    except ValueError:
        pass
    try:
        return ast.literal_eval(chunk)  # single quotes, True/None: a model writing Python
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def _comment_items(value: Any) -> list[Any] | None:
    if isinstance(value, dict) and isinstance(value.get("comments"), list):
        value = value["comments"]
    if isinstance(value, dict) and any(key in value for key in (*_ALIASES["path"], *_ALIASES["line"])):
        return [value]
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return value
    return None


def _salvage(reply: str, start: int) -> list[Any]:
    """The complete objects of a list that never closes (a reply cut off at the output token limit)."""
    items, i = [], start + 1
    while i < len(reply):
        if reply[i] == "{":
            chunk = _balanced(reply, i)
            if chunk is None:
                break
            value = _decode(chunk)
            if isinstance(value, dict):
                items.append(value)
            i += len(chunk)
            continue
        if reply[i] not in " \t\r\n,":
            break
        i += 1
    return items


def load_comments(reply: str) -> list[Any]:
    """The first JSON list (or object) of comments in the reply. Raises ``ReplyParseError`` when there is none."""
    saw_json = cut_off = False
    for start, ch in enumerate(reply):
        if ch not in "[{":
            continue
        chunk = _balanced(reply, start)
        if chunk is None:
            salvaged = _comment_items(_salvage(reply, start)) if ch == "[" else None
            if salvaged:
                return salvaged
            cut_off = True
            continue
        value = _decode(chunk)
        if value is None:
            continue
        saw_json = True
        items = _comment_items(value)
        if items is not None:
            return items
    if cut_off and not saw_json:
        raise ReplyParseError(f"the JSON is cut off before it closes: write fewer, shorter comments; {_FORMAT_HINT}")
    if saw_json:
        raise ReplyParseError(f"the JSON holds no review comments (each needs path, line and body): {_FORMAT_HINT}")
    raise ReplyParseError(f"no JSON list of review comments found: {_FORMAT_HINT}")


# --- one comment ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Raw:
    path: str
    line: int | None
    start_line: int | None
    body: str
    replacement: str | None
    original: str | None = None


def _pick(item: Mapping[str, Any], key: str) -> Any:
    return next((item[alias] for alias in _ALIASES[key] if item.get(alias) is not None), None)


_LINE_TEXT = re.compile(r"\s*(?:lines?\s*)?L?(\d+)\s*(?:(?:-|\u2013|\u2014|\.\.|to)\s*L?(\d+)\s*)?", re.IGNORECASE)


def _line_numbers(value: Any) -> tuple[int | None, int | None]:
    """``(start, end)`` from 12, 12.0, "12", "L12", "10-12", "L10-L12", "10..12", "lines 10 to 12" or [10, 12].

    Anything else (10.5, "10, 14", "line 10 of 20", [3, 9, 4], "-3") is no line number: reading digits out of it
    would put the suggestion on lines the model did not name (10.5 is not lines 5 to 10)."""
    if isinstance(value, bool):
        return None, None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return None, value
    if isinstance(value, list) and 1 <= len(value) <= 2 and all(type(v) is int for v in value):
        return (min(value), max(value)) if len(value) > 1 else (None, value[0])
    matched = _LINE_TEXT.fullmatch(value) if isinstance(value, str) else None
    if matched is None:
        return None, None
    return (int(matched[1]), int(matched[2])) if matched[2] else (None, int(matched[1]))


def _unfence(code: str) -> str:
    """Replacement code without a ```suggestion fence around it, nor the "  12| " line numbers the prompt showed.

    A fence's content is taken line for line: ```` ```suggestion\\n``` ```` is empty (a deletion), one empty line
    inside it stays one empty line.
    """
    lines = code.split("\n")
    opened = _FENCE_OPEN.match(lines[0]) if len(lines) >= 2 else None
    if opened:
        end = len(lines) - 1 if lines[-1].strip() else len(lines) - 2
        if end >= 1 and re.fullmatch(rf"[ \t]*{re.escape(opened[1])}[ \t]*", lines[end]):
            body = lines[1:end]
            code = "".join(line + "\n" for line in body)
            lines = body
    if lines and all(_NUMBERED.match(line) for line in lines if line.strip()):
        return "\n".join(_NUMBERED.sub("", line, count=1) for line in lines)
    return code


def replacement_lines(code: str) -> list[str]:
    """The lines a suggestion's code stands for: ``""`` is none (the lines are deleted); one final ``\\n`` ends the
    last line and is not an empty line of its own (``"\\n"`` is one empty line, ``"x\\n\\n"`` is ``x`` and an
    empty line)."""
    return [] if code == "" else code.removesuffix("\n").split("\n")


def _read_item(item: Mapping[str, Any], only_path: str | None, known: Mapping[str, object]) -> _Raw:
    path = str(_pick(item, "path") or only_path or "").strip().strip("`").removeprefix("./")
    if path not in known and path[:2] in ("a/", "b/") and path[2:] in known:
        path = path[2:]
    start, line = _line_numbers(_pick(item, "line"))
    explicit_start = _line_numbers(_pick(item, "start_line"))[1]
    start = explicit_start if explicit_start is not None else start
    if start is not None and line is not None and start > line:
        start, line = line, start
    replacement = _pick(item, "replacement")
    code = _unfence(str(replacement)) if replacement is not None else None
    original = _pick(item, "original")
    said = _unfence(str(original)) if original is not None else None
    body = str(_pick(item, "body") or "").strip()
    return _Raw(path, line, None if start == line else start, body, code, said)


def _where(raw: _Raw) -> str:
    if raw.line is None:
        return raw.path or "?"
    lines = f"{raw.start_line}-{raw.line}" if raw.start_line else f"{raw.line}"
    return f"{raw.path or '?'}:{lines}"


def _check(raw: _Raw, pr_files: Sequence[Any], new_lines: Mapping[str, set[int]]) -> str | None:
    """Why GitHub would refuse this comment, or None."""
    if not raw.path:
        return "no path"
    if raw.line is None:
        return "no line number"
    if raw.path not in new_lines:
        return "not a file the PR's diff changes (or it was deleted)"
    if not raw.body and raw.replacement is None:
        return "empty comment"
    if hunk_range_ok(pr_files, raw.path, raw.start_line, raw.line):
        return None
    if raw.start_line is not None and raw.start_line in new_lines[raw.path] and raw.line in new_lines[raw.path]:
        return "the range is not inside one hunk of the PR's diff"
    return "not a line on the new side of the PR's diff"


def _side_problem(item: Mapping[str, Any]) -> str | None:
    """Why a comment that names a side other than the new one (``"side": "LEFT"``) cannot carry a suggestion there:
    its line numbers count the base file's lines, and a suggestion replaces lines of the head."""
    for key in ("side", "start_side"):
        side = item.get(key)
        if side is not None and str(side).strip().upper() not in ("RIGHT", ""):
            return f"{key} {str(side)[:20]!r}: comments go on the new side (RIGHT) of the diff, whose lines they count"
    return None


# --- the whole reply -----------------------------------------------------------------------------------------------


def parse_review(reply: str, read_file: ReadFile, pr_diff: str) -> tuple[Suggestion, tuple[str, ...]]:
    """Comments that GitHub would accept, one patch holding their suggestions, and every dropped one with why."""
    pr_files = parse_diff(pr_diff)
    new_lines = new_side_lines(pr_files)
    only_path = next(iter(new_lines)) if len(new_lines) == 1 else None
    dropped: list[str] = []
    kept: list[ReviewComment] = []
    for number, item in enumerate(load_comments(reply), start=1):
        raw = _read_item(item, only_path, new_lines)
        reason = _check(raw, pr_files, new_lines) or _side_problem(item)
        if reason is not None or raw.line is None:
            reason = reason or "no line number"
            dropped.append(f"{_where(raw)}: {reason}" if raw.path else f"comment {number}: {reason}")
            continue
        comment = ReviewComment(raw.path, raw.line, raw.body, raw.start_line, raw.replacement, raw.original)
        if comment in kept:
            dropped.append(f"{_where(raw)}: the same comment twice")
            continue
        kept.append(comment)
    comments, patch = _suggestions(kept, read_file, dropped, pr_files)
    return Suggestion("review", patch, comments=tuple(comments), edit_format="review-json"), tuple(dropped)


def _same(have: Sequence[str], want: Sequence[str]) -> bool:
    return [bare(line).rstrip() for line in have] == [line.rstrip() for line in want]


def _placed(
    comment: ReviewComment, lines: Sequence[str], pr_files: Sequence[Any], dropped: list[str]
) -> ReviewComment | None:
    """The comment on the lines its ``original`` names: where it says, else moved to the nearest lines inside one
    hunk of the PR's diff that hold them, else None (dropped with the reason): never posted over other code."""
    where = _where(_Raw(comment.path, comment.line, comment.start_line, "", None))
    first = comment.start_line or comment.line
    if comment.original is None:
        return comment
    want = replacement_lines(comment.original)
    if not want:
        return comment
    if _same(lines[first - 1 : comment.line], want):
        return comment
    size = len(want)
    spots = [
        at
        for at in range(1, len(lines) - size + 2)
        if _same(lines[at - 1 : at - 1 + size], want)
        and hunk_range_ok(pr_files, comment.path, at if size > 1 else None, at + size - 1)
    ]
    if not spots:
        dropped.append(
            f"{where}: the suggestion's original lines are not there nor anywhere in the PR's diff: not posted over "
            "other code"
        )
        return None
    at = min(spots, key=lambda spot: (abs(spot - first), spot))
    moved = replace(comment, start_line=at if size > 1 else None, line=at + size - 1)
    dropped.append(
        f"{where}: moved to {_where(_Raw(moved.path, moved.line, moved.start_line, '', None))}, "
        "where its original lines are"
    )
    return moved


def _suggestions(
    comments: Sequence[ReviewComment], read_file: ReadFile, dropped: list[str], pr_files: Sequence[Any] = ()
) -> tuple[list[ReviewComment], str]:
    """One patch per file replacing each suggested range; misplaced, overlapping or no-op suggestions are moved or
    dropped."""
    kept: list[ReviewComment] = []
    ranges: dict[str, list[tuple[int, int, ReviewComment]]] = {}
    texts: dict[str, str | None] = {}
    for comment in comments:
        where = _where(_Raw(comment.path, comment.line, comment.start_line, "", None))
        if comment.replacement is None:
            kept.append(comment)
            continue
        first = comment.start_line or comment.line
        if comment.path not in texts:
            texts[comment.path] = read_file(comment.path)
        text = texts[comment.path]
        lines = split_lines(text) if text is not None else []
        if text is None or comment.line > len(lines):
            dropped.append(f"{where}: the suggestion is for lines the file at the PR head does not have")
            continue
        placed = _placed(comment, lines, pr_files, dropped)
        if placed is None:
            continue
        comment, first = placed, placed.start_line or placed.line
        where = _where(_Raw(comment.path, comment.line, comment.start_line, "", None))
        new_lines = fit(replacement_lines(comment.replacement or ""), lines)  # the file's indentation style
        if any(foreign(line, style_of(lines)) for line in new_lines if line.strip()):
            dropped.append(f"{where}: the suggestion is indented unlike the file (tabs and spaces): not posted")
            continue
        comment = replace(comment, replacement="".join(line + "\n" for line in new_lines))
        clash = next((c for a, b, c in ranges.get(comment.path, []) if a <= comment.line and first <= b), None)
        if clash is not None:
            dropped.append(f"{where}: the suggestion overlaps the one at {clash.path}:{clash.start_line or clash.line}")
            continue
        if replacement_lines(comment.replacement or "") == [bare(line) for line in lines[first - 1 : comment.line]]:
            if comment.body:  # the comment still says something; only its no-op suggestion goes
                dropped.append(f"{where}: suggestion removed, it repeats the lines unchanged")
                kept.append(replace(comment, replacement=None))
            else:
                dropped.append(f"{where}: the suggestion repeats the lines unchanged")
            continue
        ranges.setdefault(comment.path, []).append((first, comment.line, comment))
        kept.append(comment)
    patch = ""
    for path, spans in ranges.items():
        text = texts[path] or ""
        after = text
        for first, last, comment in sorted(spans, key=lambda span: span[0], reverse=True):
            after = splice(split_lines(after), first - 1, last, replacement_lines(comment.replacement or ""))
        patch += make_patch(path, text, after)
    return kept, patch
