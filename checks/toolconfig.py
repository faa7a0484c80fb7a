"""Files the head's own tool configuration points at, which a patch may not change either.

A ruff config can ``extend`` another file; pytest loads plugin modules named by ``-p NAME`` in its ``addopts`` and by
``pytest_plugins`` in a ``conftest.py``. Those files configure the linter or run inside the test runner, so they are
protected like the configuration files themselves (see :mod:`checks.paths`). Read from the head's files only.
"""

from __future__ import annotations

import ast
import configparser
import posixpath
import shlex
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

RUFF_FILES = ("pyproject.toml", "ruff.toml", ".ruff.toml")
INI_SECTIONS = {"pytest.ini": "pytest", ".pytest.ini": "pytest", "tox.ini": "pytest", "setup.cfg": "tool:pytest"}


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML file at ``path`` as a dict; ``{}`` when it is missing, unreadable or not valid TOML."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def dig(data: Any, *keys: str) -> Any:
    """``data[k1][k2]...``, or None as soon as a level is not a table."""
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _addopts(root: Path, rel: str) -> list[str]:
    name = Path(rel).name
    value: Any = None
    if name in ("pytest.toml", ".pytest.toml"):
        value = dig(read_toml(root / rel), "pytest", "addopts")
    elif name == "pyproject.toml":
        data = read_toml(root / rel)
        value = dig(data, "tool", "pytest", "addopts") or dig(data, "tool", "pytest", "ini_options", "addopts")
    elif name in INI_SECTIONS:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string((root / rel).read_text(encoding="utf-8", errors="replace"))
            value = parser.get(INI_SECTIONS[name], "addopts", fallback=None)
        except configparser.Error:
            value = None
    if isinstance(value, list):
        return [str(v) for v in value]
    try:
        return shlex.split(value) if isinstance(value, str) else []
    except ValueError:
        return []


def _plugin_names(args: list[str]) -> list[str]:
    names = []
    for index, arg in enumerate(args):
        if arg == "-p" and index + 1 < len(args):
            names.append(args[index + 1])
        elif arg.startswith("-p") and len(arg) > 2:
            names.append(arg[2:])
    return [n for n in names if not n.startswith("no:")]


def _conftest_plugins(path: Path) -> list[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (SyntaxError, ValueError):
        return []
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytest_plugins" for t in node.targets):
            value = node.value
            items = value.elts if isinstance(value, ast.List | ast.Tuple) else [value]
            names += [i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)]
    return names


def _module_files(module: str, tracked: set[str], roots: Iterable[str]) -> list[str]:
    stem = module.replace(".", "/")
    candidates = [f"{root}{stem}.py" for root in roots] + [f"{root}{stem}/__init__.py" for root in roots]
    return [c for c in candidates if c in tracked]


def referenced(root: Path, files: Iterable[str], import_roots: Iterable[str] = ("", "src/")) -> dict[str, str]:
    """Path -> why it is protected, for every repository file the head's ruff and pytest configs point at."""
    tracked = set(files)
    roots = tuple(import_roots)
    found: dict[str, str] = {}
    for rel in sorted(tracked):
        name = Path(rel).name
        folder = posixpath.dirname(rel)
        if name in RUFF_FILES:
            data = read_toml(root / rel)
            extend = dig(data, "tool", "ruff", "extend") if name == "pyproject.toml" else data.get("extend")
            if isinstance(extend, str):
                target = posixpath.normpath(posixpath.join(folder, extend))
                if target in tracked:
                    found.setdefault(target, f"the ruff config {rel} extends it")
        for plugin in _plugin_names(_addopts(root, rel)):
            for target in _module_files(plugin, tracked, roots):
                found.setdefault(target, f"pytest loads it as a plugin (-p {plugin} in {rel})")
        if name == "conftest.py":
            for plugin in _conftest_plugins(root / rel):
                for target in _module_files(plugin, tracked, roots):
                    found.setdefault(target, f"pytest loads it as a plugin (pytest_plugins in {rel})")
    return found
