"""Applying a model's edits to the PR head's files, tolerantly: the core every edit format shares.

Every edit format ends here: edits change texts in a ``Workspace`` (files read at the PR head through
``read_file``), and the workspace writes one clean patch with ``bot.parse.diff.make_patch``. Lines are matched exactly
first, then ignoring trailing whitespace, then ignoring indentation (re-indenting the new lines to the file's).
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from bot.errors import ReplyParseError
from bot.parse.diff import make_patch
from bot.parse.indent import check_added, style_of

ReadFile = Callable[[str], str | None]

_FENCE_OPEN = re.compile(r"^(`{3,}|~{3,})\s*(.*)$")
SEARCH_LINE = re.compile(r"^\s*<{5,9}\s*SEARCH\b.*$")
DIVIDER_LINE = re.compile(r"^\s*={5,9}\s*$")
REPLACE_LINE = re.compile(r"^\s*>{5,9}\s*REPLACE\b.*$")
# a leading "/" or "~/" is read too (``/etc/passwd``), so that ``Workspace.resolve`` refuses it by name: unread, the
# block would go to the PR's only file
_PATH_LIKE = re.compile(
    r"^(?:~?/)?(?:[\w.](?:[\w.\-+@/\\]*[\w-])?\.\w+|[\w.][\w.\-+@]*(?:/[\w.\-+@]+)+|\.\w[\w.\-]*)$"
)  # the last: a dotfile (.gitignore, .env)
_SPACED_PATH_LIKE = re.compile(r"^(?:~?/)?(?:[\w.](?:[\w.\-+@/\\ ]*[\w-])?\.\w+|[\w.][\w.\-+@ ]*(?:/[\w.\-+@ ]+)+)$")
_PATH_LABEL = re.compile(r"^(?:#+|//|--|<!--)?\s*(?:(?:file(?:name)?|path)\s*:\s*)?", re.IGNORECASE)


# --- text helpers ------------------------------------------------------------------------------------------------


def eol_of(text: str) -> str:
    """The file's line ending, so that new lines match it."""
    return "\r\n" if text.count("\r\n") * 2 > text.count("\n") else "\n"


def bare(line: str) -> str:
    return line.rstrip("\r\n")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def reindent(lines: Sequence[str], delta: int, char: str = " ") -> list[str]:
    """Shift lines right (``delta`` > 0, adding ``char``: the file's indentation character) or left by ``delta``
    characters of indentation; blank lines stay blank."""
    if delta == 0:
        return list(lines)
    if delta > 0:
        return [(char * delta + line) if line.strip() else line for line in lines]
    return [line[min(-delta, _indent(line)) :] for line in lines]


@dataclass(frozen=True)
class Match:
    """Where a block of lines was found: ``start`` index in the file's lines, and how loosely it matched."""

    start: int
    level: int  # 0 exact, 1 trailing whitespace ignored, 2 indentation ignored too
    indent_delta: int = 0  # columns to add to the block's lines so they sit at the file's indentation


_NORMALIZERS: tuple[Callable[[str], str], ...] = (bare, str.rstrip, str.strip)


def find_block(
    lines: Sequence[str], block: Sequence[str], *, hint: int = 0, start: int = 0, loosest: int = 2
) -> Match | None:
    """Find ``block`` (lines without endings) in ``lines`` (with endings) at or after ``start``, nearest ``hint``."""
    level, found = block_places(lines, block, start=start, loosest=loosest)
    if not found:
        return None
    at = min(found, key=lambda i: (abs(i - hint), i))
    return Match(at, level, _indent_delta(lines[at : at + len(block)], block) if level == 2 else 0)


def block_places(
    lines: Sequence[str], block: Sequence[str], *, start: int = 0, loosest: int = 2
) -> tuple[int, list[int]]:
    """Every 0-based index at or after ``start`` where ``block`` stands in ``lines``, at the strictest level of
    matching (0 exact, 1 trailing whitespace, 2 indentation) that finds any, and that level; ``[]`` when none."""
    size = len(block)
    if size == 0 or size > len(lines):
        return 0, []
    frozen = tuple(lines)
    for level, norm in enumerate(_NORMALIZERS[: loosest + 1]):
        hay = _normalised(level, frozen)
        needle = [norm(line) for line in block]
        first = needle[0]  # only where the first line matches is the rest compared (a reply may hold many blocks)
        found = [
            i
            for i in range(start, len(hay) - size + 1)
            if hay[i] == first and all(hay[i + k] == needle[k] for k in range(1, size))
        ]
        if found:
            return level, found
    return 0, []


@functools.lru_cache(maxsize=8)
def _normalised(level: int, lines: tuple[str, ...]) -> tuple[str, ...]:
    """The file's lines under one level of matching, kept while the same text is searched block after block."""
    return tuple(map(_NORMALIZERS[level], lines))


def _indent_delta(file_lines: Sequence[str], block: Sequence[str]) -> int:
    for have, want in zip(file_lines, block, strict=False):
        if have.strip():
            return _indent(have) - _indent(want)
    return 0


def closest_line_hint(lines: Sequence[str], wanted: str) -> str:
    """`` (closest: line 12 'def foo(x):')`` for an error message, or ``""`` when nothing is close."""
    stripped = [line.strip() for line in lines]
    close = difflib.get_close_matches(wanted.strip(), stripped, n=1, cutoff=0.6)
    if not close:
        return ""
    return f" (closest: line {stripped.index(close[0]) + 1} {bare(lines[stripped.index(close[0])]).strip()!r})"


def indent_char(lines: Sequence[str]) -> str:
    """The character the file indents with (a space when it has no indentation)."""
    return style_of(lines) or " "


def join_lines(lines: Iterable[str], eol: str) -> str:
    """Join lines that may lack endings: every line but the last gets ``eol`` if it has none."""
    out = list(lines)
    for i in range(len(out) - 1):
        if not out[i].endswith("\n"):
            out[i] += eol
    return "".join(out)


# --- the workspace -----------------------------------------------------------------------------------------------


class Workspace:
    """The PR head's files as a model's edits change them; ``patch()`` writes the result as one git diff."""

    def __init__(self, read_file: ReadFile, pr_paths: Sequence[str] = ()) -> None:
        self._read = read_file
        self.pr_paths = tuple(pr_paths)
        self._original: dict[str, str | None] = {}
        self._current: dict[str, str | None] = {}

    def exists(self, path: str) -> bool:
        return self.text(path) is not None

    def text(self, path: str) -> str | None:
        if path not in self._original:
            self._original[path] = self._current[path] = self._read(path)
        return self._current[path]

    def set_text(self, path: str, text: str | None) -> None:
        """Change a file; ``ReplyParseError`` when the new lines are indented in another style than the file's."""
        check_added(path, self.text(path), text)
        self._current[path] = text

    def resolve(self, raw: str, what: str) -> str:
        """A path as a model wrote it (``a/src/x.py``, ``./x.py``, ```x.py```) made repository-relative."""
        path = raw.strip().strip("`*'\"").strip().replace("\\", "/")
        while path.startswith("./"):
            path = path[2:]
        if not path or path.startswith(("/", "~")) or ".." in path.split("/") or ":" in path.split("/")[0]:
            raise ReplyParseError(f"{what} names {raw.strip()!r}: give a file path relative to the repository root")
        if path[:2] in ("a/", "b/") and (path[2:] in self.pr_paths or self.exists(path[2:]) or not self.exists(path)):
            path = path[2:]
        return path

    def single_pr_path(self) -> str | None:
        return self.pr_paths[0] if len(self.pr_paths) == 1 else None

    def patch(self) -> str:
        return "".join(make_patch(path, self._original[path], self._current[path]) for path in self._original)


# --- fences and path lines ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fence:
    """A fenced block of a reply: its info string (``python src/x.py``), lines, and where it sat."""

    info: str
    lines: tuple[str, ...]
    open_index: int  # index of the opening ``` line in the reply's lines
    closed: bool


def find_fences(lines: Sequence[str]) -> list[Fence]:
    """Top-level fenced blocks; a fence is closed by a line of the same character, at least as long, alone."""
    fences, i = [], 0
    while i < len(lines):
        opened = _FENCE_OPEN.match(lines[i].strip())
        if not opened:
            i += 1
            continue
        marker = opened[1]
        closing = re.compile(rf"^{re.escape(marker[0])}{{{len(marker)},}}\s*$")
        end = next((j for j in range(i + 1, len(lines)) if closing.match(lines[j].strip())), len(lines))
        fences.append(Fence(opened[2].strip(), tuple(lines[i + 1 : end]), i, end < len(lines)))
        i = end + 1
    return fences


def path_from_line(line: str, *, spaces: bool = False) -> str | None:
    """A file path if ``line`` is nothing but one (``src/x.py``, ``**src/x.py**``, ``File: src/x.py:``, ``# x.py``).

    Non-ASCII letters are path characters. With ``spaces``, a path may hold spaces (``docs/my notes.md``); the
    caller then uses it only if such a file exists, since prose looks like that too.
    """
    text = line.replace("*", "").replace("`", "").strip().removesuffix("-->").strip()
    text = _PATH_LABEL.sub("", text, count=1).strip().rstrip(":").strip().strip("'\"").strip()
    if text and " " not in text.strip() and _PATH_LIKE.match(text):
        return text
    if spaces and text and _SPACED_PATH_LIKE.match(text):
        return text
    return None


def path_from_info(info: str) -> str | None:
    """The path in a fence's info string: ```` ```python src/x.py ```` or ```` ```src/x.py ````."""
    for word in info.split()[::-1]:
        path = path_from_line(word.removeprefix("title=").strip("\"'"))
        if path:
            return path
    return None


def path_before(
    lines: Sequence[str], index: int, *, reach: int = 2, inside_fence: bool = False, spaces: bool = False
) -> str | None:
    """A path on one of the ``reach`` non-blank lines just above ``lines[index]``.

    With ``inside_fence`` (a SEARCH line), the first fence line above is the block's own opening fence: its info
    string or the line above it may name the file. Otherwise a fence line above belongs to another block: stop.
    """
    seen = 0
    for j in range(index - 1, -1, -1):
        text = lines[j].strip()
        if not text:
            continue
        opened = _FENCE_OPEN.match(text)
        if opened:
            path = path_from_info(opened[2]) if inside_fence else None
            if path or not inside_fence:
                return path
            inside_fence = False
            continue
        if REPLACE_LINE.match(text):
            return None
        path = path_from_line(text, spaces=spaces)
        if path:
            return path
        seen += 1
        if seen >= reach:
            return None
    return None


def splice(lines: Sequence[str], start: int, end: int, new: Sequence[str]) -> str:
    """The file with ``lines[start:end]`` replaced by ``new`` (lines without endings), in the file's line endings."""
    eol = eol_of("".join(lines))
    tail_eol = "" if end == len(lines) and lines and not lines[-1].endswith("\n") else eol
    new_lines = [line + eol for line in new[:-1]] + ([new[-1] + tail_eol] if new else [])
    return join_lines([*lines[:start], *new_lines, *lines[end:]], eol)
