"""SEARCH/REPLACE blocks (aider's edit format): the path alone on the line before, then the exact old lines and
their replacement. Applied through the shared ``Workspace`` (``bot.parse.workspace``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.errors import ReplyParseError
from bot.parse.diff import split_lines
from bot.parse.indent import fit
from bot.parse.workspace import (
    DIVIDER_LINE,
    REPLACE_LINE,
    SEARCH_LINE,
    Workspace,
    block_places,
    closest_line_hint,
    find_block,
    indent_char,
    path_before,
    reindent,
    splice,
)

MAX_BLOCKS = 200

# --- SEARCH/REPLACE blocks ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchReplace:
    path: str | None
    search: tuple[str, ...]
    replace: tuple[str, ...]
    spaced_path: str | None = None  # the path line read with spaces allowed: used when that file exists


def has_search_replace(lines: Sequence[str]) -> bool:
    return any(SEARCH_LINE.match(line) for line in lines)


def read_search_replace(lines: Sequence[str]) -> list[SearchReplace]:
    """Every ``<<<<<<< SEARCH`` / ``=======`` / ``>>>>>>> REPLACE`` block with the path named just above it."""
    blocks: list[SearchReplace] = []
    i = 0
    while i < len(lines):
        if not SEARCH_LINE.match(lines[i]):
            i += 1
            continue
        number = len(blocks) + 1
        divider = next((j for j in range(i + 1, len(lines)) if DIVIDER_LINE.match(lines[j])), None)
        if divider is None:
            raise ReplyParseError(f"SEARCH/REPLACE block {number} has no ======= line between SEARCH and REPLACE")
        end = next((j for j in range(divider + 1, len(lines)) if REPLACE_LINE.match(lines[j])), None)
        if end is None:
            raise ReplyParseError(f"SEARCH/REPLACE block {number} does not end with a >>>>>>> REPLACE line")
        path = path_before(lines, i, inside_fence=True)
        spaced = path_before(lines, i, inside_fence=True, spaces=True)
        search, replace = tuple(lines[i + 1 : divider]), tuple(lines[divider + 1 : end])
        blocks.append(SearchReplace(path, search, replace, spaced if spaced != path else None))
        i = end + 1
    return blocks


def apply_search_replace(space: Workspace, blocks: Sequence[SearchReplace]) -> None:
    """Apply blocks in order. A block without a path goes to the PR's only file, and only when no earlier block
    named another file: it never silently edits the previous block's file."""
    if len(blocks) > MAX_BLOCKS:  # each block searches its file: thousands of them would hold a worker for minutes
        raise ReplyParseError(
            f"the reply holds {len(blocks)} SEARCH/REPLACE blocks, more than {MAX_BLOCKS}: send a smaller change"
        )
    named: set[str] = set()
    for number, block in enumerate(blocks, start=1):
        what = f"SEARCH/REPLACE block {number}"
        raw = block.path
        if block.spaced_path and space.exists(space.resolve(block.spaced_path, what)):
            raw = block.spaced_path
        only = space.single_pr_path()
        if raw is None and only is not None and named <= {space.resolve(only, what)}:
            raw = only
        if raw is None:
            raise ReplyParseError(
                f"{what} names no file: put the file path alone on the line before it (every block needs its own)"
            )
        path = space.resolve(raw, what)
        named.add(path)
        _apply_one(space, path, number, block)


def _trim_blank(lines: Sequence[str]) -> list[str]:
    out = list(lines)
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return out


def _apply_one(space: Workspace, path: str, number: int, block: SearchReplace) -> None:
    text = space.text(path)
    search, replacement = list(block.search), list(block.replace)
    if not _trim_blank(search):
        if text is None or not text.strip():
            space.set_text(path, "\n".join(replacement) + "\n" if replacement else "")
            return
        raise ReplyParseError(
            f"SEARCH block {number} for {path} is empty: copy the exact lines to change into the SEARCH part"
        )
    if text is None:
        raise ReplyParseError(f"SEARCH block {number} is for {path}, which does not exist at the PR head")
    lines = split_lines(text)
    search, replacement = fit(search, lines), fit(replacement, lines)
    match = find_block(lines, search)
    if match is None and _trim_blank(search) != search:  # blank lines the model added around the block
        search, replacement = _trim_blank(search), _trim_blank(replacement)
        match = find_block(lines, search)
    if match is None and _trim_blank(replacement) and find_block(lines, _trim_blank(replacement), loosest=1):
        raise ReplyParseError(
            f"SEARCH block {number} for {path} does not match the file, which already has its REPLACE lines: "
            "propose a change the file does not have yet"
        )
    if match is None:
        first = _trim_blank(search)[0]
        raise ReplyParseError(
            f"SEARCH block {number} for {path} does not match the file: line {first.strip()!r} was not found"
            f"{closest_line_hint(lines, first)}; copy the lines exactly as they are in the file"
        )
    places = block_places(lines, search)[1]
    if len(places) > 1:  # picking one would be a guess: the model may mean any of them
        where = ", ".join(str(at + 1) for at in places[:5]) + (", ..." if len(places) > 5 else "")
        raise ReplyParseError(
            f"SEARCH block {number} for {path} matches {len(places)} places (lines {where}): add the lines around "
            "the change to the SEARCH part so that it matches exactly one place"
        )
    new = reindent(replacement, match.indent_delta, indent_char(lines))
    space.set_text(path, splice(lines, match.start, match.start + len(search), new))
