"""Fenced code as an edit: a whole function or class of the file, or the whole file.

A fence counts when its file is named: in the info string (```` ```python src/x.py ````), on the line just above
it, or in a first-line comment (``# src/x.py``). A Python fence whose definitions all exist in the file (plus any
imports) replaces those definitions, found with ``ast`` (decorators included, re-indented to where they sit); a
fence that holds every top-level definition of the file, or most of its lines, replaces the file. A fence with no
name is tried on the PR's only file, but only as definitions of it.
"""

from __future__ import annotations

import ast
import itertools
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from bot.errors import ReplyParseError
from bot.parse.diff import split_lines
from bot.parse.indent import fit
from bot.parse.search_replace import has_search_replace
from bot.parse.unified_diff import looks_like_diff
from bot.parse.workspace import (
    Fence,
    Workspace,
    eol_of,
    indent_char,
    join_lines,
    path_before,
    path_from_info,
    path_from_line,
    reindent,
)

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_IMPORTS = (ast.Import, ast.ImportFrom)
_NOT_EDITS = {"diff", "patch", "json", "bash", "sh", "shell", "console", "output", "log", "text", "txt", "plaintext"}
_PYTHON = {"", "python", "py", "python3"}


@dataclass(frozen=True)
class _Edit:
    start: int  # 0-based line index in the file
    end: int  # exclusive
    lines: tuple[str, ...]  # without line endings


def apply_blocks(space: Workspace, lines: Sequence[str], fences: Sequence[Fence]) -> str | None:
    """Apply every fence that names a file; returns "whole-function", "whole-file" or "whole-block", or None."""
    kinds: set[str] = set()
    for fence in fences:
        kind = _apply_fence(space, lines, fence)
        if kind:
            kinds.add(kind)
    if not kinds:
        return None
    return kinds.pop() if len(kinds) == 1 else "whole-block"


def _fence_path(lines: Sequence[str], fence: Fence) -> tuple[str | None, tuple[str, ...]]:
    """The path a fence names, and its lines without a first-line path comment."""
    body = fence.lines
    first = body[0].strip() if body else ""
    if first.startswith(("#", "//")) and path_from_line(first):
        return path_from_line(first), body[1:]
    return path_from_info(fence.info) or path_before(lines, fence.open_index), body


def _apply_fence(space: Workspace, lines: Sequence[str], fence: Fence) -> str | None:
    if has_search_replace(fence.lines) or looks_like_diff(fence.lines, ()):
        return None  # another format's text; its own parser has spoken
    language = (fence.info.split() or [""])[0].lower()
    raw, body = _fence_path(lines, fence)
    code = "\n".join(body).strip("\n")
    if not code.strip():
        return None
    if raw is None:
        only = space.single_pr_path()
        if language not in _PYTHON or only is None or not only.endswith(".py"):
            return None
        text = space.text(only)
        edited = _replace_definitions(text, code) if text is not None else None
        if edited is None:
            return None
        space.set_text(only, edited)
        return "whole-function"
    if language in _NOT_EDITS and path_from_info(fence.info) is None:
        return None
    path = space.resolve(raw, "the fenced block")
    text = space.text(path)
    if text is None:
        space.set_text(path, code + "\n")
        return "whole-file"
    if path.endswith((".py", ".pyi")):
        edited = _replace_definitions(text, code)
        if edited is not None:
            _still_python(path, text, edited, "whole-function")
            space.set_text(path, edited)
            return "whole-function"
    if _is_whole_file(text, code, python=path.endswith((".py", ".pyi"))):
        eol = eol_of(text)
        edited = eol.join(fit(code.split("\n"), split_lines(text))) + eol
        if path.endswith((".py", ".pyi")):
            _still_python(path, text, edited, "whole-file")
        space.set_text(path, edited)
        return "whole-file"
    raise ReplyParseError(
        f"the fenced block for {path} is neither whole functions or classes of that file nor the whole file: "
        "use SEARCH/REPLACE blocks for a partial change"
    )


def _parses(text: str) -> SyntaxError | None:
    try:
        ast.parse(text)
    except SyntaxError as exc:
        return exc
    except ValueError as exc:  # NUL bytes
        return SyntaxError(str(exc))
    return None


def _still_python(path: str, before: str, after: str, kind: str) -> None:
    """A whole-function or whole-file edit must leave a Python file that parsed still parsing: one that does not was
    most likely cut short (a function without its end, a file without its tail)."""
    error = _parses(after)
    if error is not None and _parses(before) is None:
        where = f" (line {error.lineno}: {error.msg})" if error.lineno else ""
        raise ReplyParseError(
            f"the {kind} edit of {path} does not parse as Python{where}: it looks cut short or unfinished; "
            "send the complete code"
        )


def _top_level_names(module: ast.Module) -> set[str]:
    return {node.name for node in module.body if isinstance(node, _DEFS)}


def _is_whole_file(text: str, code: str, *, python: bool) -> bool:
    if python:
        try:
            file_names, code_names = _top_level_names(ast.parse(text)), _top_level_names(ast.parse(code))
        except (SyntaxError, ValueError):  # ValueError: NUL or undecodable bytes
            file_names, code_names = set(), set()
        if file_names:
            return file_names <= code_names
    return len(code.splitlines()) * 2 >= len(text.splitlines())


def _span(node: ast.stmt) -> tuple[int, int]:
    """0-based start (first decorator) and exclusive end of a definition."""
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno, *(d.lineno for d in decorators)])
    return start - 1, node.end_lineno or node.lineno


def _find(module: ast.Module, wanted: ast.stmt, indent: int) -> ast.stmt | None:
    """The file's definition with ``wanted``'s name and kind; among several, the one at ``indent`` columns."""
    is_class = isinstance(wanted, ast.ClassDef)
    name = getattr(wanted, "name", None)
    found = [
        node
        for node in ast.walk(module)
        if isinstance(node, _DEFS) and node.name == name and isinstance(node, ast.ClassDef) == is_class
    ]
    args = getattr(wanted, "args", None)
    is_method = bool(args and args.args and args.args[0].arg in ("self", "cls"))
    # a def taking self is a method, whatever column the model wrote it at; then the fence's own indentation

    def rank(node: ast.stmt) -> tuple[bool, bool]:
        return is_method != (node.col_offset > 0), node.col_offset != indent

    found.sort(key=rank)
    if len(found) > 1 and rank(found[0]) == rank(found[1]):  # which one the model meant would be a guess
        lines = ", ".join(str(node.lineno) for node in found if rank(node) == rank(found[0]))
        raise ReplyParseError(
            f"the fenced `{name}` matches several definitions of that name in the file (lines {lines}): give the "
            "enclosing class too, or use SEARCH/REPLACE blocks"
        )
    return found[0] if found else None


def _replace_definitions(text: str, code: str) -> str | None:
    """``text`` with each definition in ``code`` put in place of the file's one; None if ``code`` is not that."""
    indent = len(code) - len(code.lstrip(" \t")) if code.lstrip().startswith(("def ", "async ", "class ", "@")) else 0
    dedented = textwrap.dedent(code)
    try:
        fence_module, file_module = ast.parse(dedented), ast.parse(text)
    except (SyntaxError, ValueError):  # ValueError: NUL or undecodable bytes
        return None
    defs = [node for node in fence_module.body if isinstance(node, _DEFS)]
    if not defs or any(not isinstance(node, _DEFS + _IMPORTS) for node in fence_module.body):
        return None
    file_lines = split_lines(text)
    code_lines = fit(dedented.split("\n"), file_lines)
    edits = []
    for node in defs:
        target = _find(file_module, node, indent)
        if target is None:
            return None
        start, end = _span(node)
        target_start, target_end = _span(target)
        new = reindent(code_lines[start:end], target.col_offset, indent_char(file_lines))
        edits.append(_Edit(target_start, target_end, tuple(new)))
    edits.extend(_missing_imports(fence_module, file_module, code_lines, file_lines))
    edits.sort(key=lambda edit: edit.start)
    if any(a.end > b.start for a, b in itertools.pairwise(edits)):
        return None  # e.g. a class and one of its own methods: ambiguous
    eol = eol_of(text)
    for edit in reversed(edits):
        tail = file_lines[edit.end - 1] if edit.end > edit.start else "\n"
        new_lines = [line + eol for line in edit.lines]
        if edit.end == len(file_lines) and not tail.endswith("\n") and new_lines:
            new_lines[-1] = new_lines[-1].rstrip("\r\n")
        file_lines[edit.start : edit.end] = new_lines
    return join_lines(file_lines, eol)


def _missing_imports(
    fence_module: ast.Module, file_module: ast.Module, code_lines: Sequence[str], file_lines: Sequence[str]
) -> list[_Edit]:
    """Imports the fence brings that the file lacks, placed after the file's last top-level import."""
    have = {line.strip() for line in file_lines}
    wanted: list[str] = []
    for node in fence_module.body:
        if isinstance(node, _IMPORTS):
            start, end = _span(node)
            wanted.extend(line for line in code_lines[start:end] if line.strip() not in have)
    if not wanted:
        return []
    imports = [node for node in file_module.body if isinstance(node, _IMPORTS)]
    docstring = file_module.body[:1] if file_module.body and isinstance(file_module.body[0], ast.Expr) else []
    anchor = imports[-1] if imports else (docstring[0] if docstring else None)
    at = _span(anchor)[1] if anchor is not None else 0
    return [_Edit(at, at, tuple(wanted))]
