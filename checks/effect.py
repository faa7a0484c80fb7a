"""Gate ``effect``: the patch changes something a program can observe.

A patch that only touches comments, whitespace or docstrings leaves every Python file with the same syntax tree
(docstrings left out): it cannot fix a test or a bug, so it is rejected as ``no effect`` rather than posted as a
verified fix. A patch that adds, deletes or renames a file, or changes any non-Python file's text beyond
whitespace, has an effect. A Python file that does not parse has an effect too (the ruff gate then names it).
"""

from __future__ import annotations

import ast
import time
from pathlib import Path

from bot.types import GateResult, GateSettings
from checks import worktree
from checks.apply import Applied

NAME = "effect"
PYTHON_SUFFIXES = (".py", ".pyi")
_DOC_OWNERS = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, _DOC_OWNERS):
            body = node.body
            first = body[0] if body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                node.body = body[1:]
    return tree


def same_program(before: str, after: str, python: bool) -> bool:
    """Whether ``after`` behaves as ``before``: the same syntax tree without docstrings for Python source, the same
    text without whitespace for anything else. A file that does not parse is never the same."""
    if not python:
        return before.split() == after.split()
    try:
        old, new = ast.parse(before), ast.parse(after)
    except (SyntaxError, ValueError):
        return False
    return ast.dump(_without_docstrings(old)) == ast.dump(_without_docstrings(new))


def _unchanged(root: Path, old_path: str | None, new_path: str | None) -> bool:
    if old_path is None or new_path is None or old_path != new_path:
        return False  # created, deleted or renamed: observable
    before = worktree.read_file_at(root, "HEAD", old_path)
    target = root / new_path
    if before is None or not target.is_file():
        return False
    after = target.read_text(encoding="utf-8", errors="replace")
    return same_program(before, after, new_path.endswith(PYTHON_SUFFIXES))


def run(root: Path, applied: Applied, settings: GateSettings) -> GateResult:
    """Fail with ``no effect`` when no file the patch touches changes in a way a program can observe."""
    del settings  # nothing to configure: a patch without effect is never a fix
    start = time.monotonic()
    files = applied.patch.files
    if files and all(_unchanged(root, f.old_path, f.new_path) for f in files):
        summary = (
            f"no effect: the patch changes only comments, whitespace or docstrings in {len(files)} file(s) "
            "(the same syntax tree otherwise), so it cannot fix anything"
        )
        return GateResult(NAME, "fail", summary, (), time.monotonic() - start)
    return GateResult(NAME, "pass", "changes what the code does", (), time.monotonic() - start)
