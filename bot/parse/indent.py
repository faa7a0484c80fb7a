"""Indentation style: a model's replacement takes the style of the file it edits (tabs stay tabs), or is refused.

Models write spaces. In a file indented with tabs, lines indented with spaces (or with a mix) are a syntax error in
Python and noise elsewhere, so a replacement is converted to the file's style when that is unambiguous (every
indentation a multiple of one unit) and refused with the reason otherwise. The check runs on every line an edit adds,
whatever the edit format (``Workspace.set_text``).
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Sequence

from bot.errors import ReplyParseError

TAB, SPACE = "\t", " "


def _prefix(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def style_of(lines: Sequence[str]) -> str | None:
    """``"\\t"`` when the indented lines mostly start with a tab, ``" "`` with a space; None: no indentation."""
    return _style_of(tuple(lines))


@functools.lru_cache(maxsize=8)  # asked again and again of one file's text while a reply's blocks go into it
def _style_of(lines: tuple[str, ...]) -> str | None:
    tabs = sum(1 for line in lines if line.strip() and line.startswith(TAB))
    spaces = sum(1 for line in lines if line.strip() and line.startswith(SPACE))
    if not tabs and not spaces:
        return None
    return TAB if tabs > spaces else SPACE


def space_unit(lines: Sequence[str]) -> int:
    """Spaces per indentation level: the largest of 4, 2 that divides every even space indentation (2 if none does).

    Odd widths (the `` * `` of a block comment, alignment) are not indentation levels and are left alone.
    """
    widths = [len(_prefix(line)) for line in lines if line.strip() and _prefix(line) and TAB not in _prefix(line)]
    return next((unit for unit in (4, 2) if all(width % unit == 0 for width in widths if width % 2 == 0)), 2)


def to_style(lines: Sequence[str], style: str | None, file_unit: int) -> list[str]:
    """``lines`` (without endings) with their indentation converted to ``style``; unchanged when it already is.

    Spaces become one tab per ``space_unit`` of the lines; tabs become ``file_unit`` spaces each. A prefix that
    mixes both, or spaces that are not a whole number of units, stay as they are (``check_added`` then refuses them).
    """
    unit = space_unit(lines)
    out = []
    for line in lines:
        prefix = _prefix(line)
        if style == TAB and prefix and set(prefix) == {SPACE} and len(prefix) % unit == 0:  # odd widths stay
            prefix = TAB * (len(prefix) // unit)
        elif style == SPACE and prefix and set(prefix) == {TAB}:
            prefix = SPACE * (file_unit * len(prefix))
        out.append(prefix + line[len(_prefix(line)) :] if line.strip() else line)
    return out


def fit(lines: Sequence[str], file_lines: Sequence[str]) -> list[str]:
    """``lines`` in the indentation style of ``file_lines`` (the file they go into)."""
    return to_style(lines, *_file_style(tuple(file_lines)))


@functools.lru_cache(maxsize=8)
def _file_style(file_lines: tuple[str, ...]) -> tuple[str | None, int]:
    """A file's style and space unit, kept while block after block of one reply goes into the same text."""
    return style_of(file_lines), space_unit(file_lines)


def foreign(line: str, style: str | None) -> bool:
    """True when ``line`` starts with the other indentation character than ``style``: a tab in a file indented with
    spaces, or two spaces in a file indented with tabs (one space is a block comment's `` * ``, not indentation)."""
    if style == SPACE:
        return line.startswith(TAB)
    return style == TAB and line.startswith(SPACE * 2)


def check_added(path: str, before: str | None, after: str | None) -> None:
    """Refuse an edit that adds lines indented in another style than the file's (a tab file gets a space-indented
    line, or the other way round). Raises ``ReplyParseError`` naming the line."""
    if before is None or after is None:
        return
    old, new = before.splitlines(), after.splitlines()
    style = style_of(old)
    if style is None:
        return
    other = SPACE if style == TAB else TAB
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag not in ("replace", "insert"):
            continue
        for number in range(j1, j2):
            line = new[number]
            if line.strip() and foreign(line, style):
                name = "tabs" if style == TAB else "spaces"
                raise ReplyParseError(
                    f"line {number + 1} of the edited {path} is indented with {'spaces' if other == SPACE else 'tabs'} "
                    f"but the file is indented with {name}: indent the new lines the way the file does"
                )
