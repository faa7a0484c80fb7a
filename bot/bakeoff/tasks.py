"""Bakeoff tasks: a small repository, a pull request on it, a purpose, and hidden checks the model never sees.

A task directory (``examples/tasks/<id>/``, documented in ``examples/tasks/README.md`` and ``docs/bakeoff.md``)::

    task.yml     purpose (patch | review), kind, title, body, fail_to_pass, pass_to_pass, bug (review tasks)
    base/        the repository at the PR's base
    pr/          files the PR adds or changes (laid over base/); task.yml ``delete:`` lists files it removes
    solution/    the reference fix (laid over the PR head); must pass the hidden checks
    hidden/      hidden tests, copied in only when the hidden checks run; never in the repository the model sees

``fail_to_pass`` and ``pass_to_pass`` are pytest node ids (``tests/test_x.py::test_y``), as in SWE-bench: the
first must fail on the PR head and pass with a fix, the second must pass on both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.errors import ConfigError
from bot.types import Purpose

TASK_FILE = "task.yml"
KINDS: tuple[str, ...] = ("pr-test", "hidden-test", "lint", "refactor", "hard", "legacy", "review", "humaneval")
_NODE_ID = re.compile(r"^[\w./-]+\.py(::[\w\[\]-]+)+$")
_KEYS = {"purpose", "kind", "title", "body", "fail_to_pass", "pass_to_pass", "bug", "delete", "raw_file"}


@dataclass(frozen=True)
class BugLine:
    """Where a review task's seeded bug is: a file and a 1-based line at the PR head."""

    path: str
    line: int


@dataclass(frozen=True)
class Task:
    """One bakeoff task. File maps are path -> text; ``pr`` maps a deleted path to None."""

    id: str
    purpose: Purpose
    kind: str
    title: str
    body: str
    base: Mapping[str, str] = field(hash=False)
    pr: Mapping[str, str | None] = field(hash=False)
    solution: Mapping[str, str] = field(hash=False)
    hidden: Mapping[str, str] = field(hash=False)
    fail_to_pass: tuple[str, ...]
    pass_to_pass: tuple[str, ...] = ()
    bug: BugLine | None = None
    raw_file: str | None = None  # the file a --raw answer replaces (the one file the solution changes)
    raw_prompt: str | None = None  # HumanEval: the problem's own prompt, completed as is

    def head_files(self) -> dict[str, str]:
        """Every file at the PR head."""
        files = dict(self.base)
        for path, text in self.pr.items():
            if text is None:
                files.pop(path, None)
            else:
                files[path] = text
        return files


def _read_tree(root: Path) -> dict[str, str]:
    if not root.is_dir():
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def _node_ids(data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and _NODE_ID.match(v) for v in value):
        raise ConfigError(f"{key} must be a list of pytest node ids like tests/test_x.py::test_y", where=where)
    return tuple(value)


def load_task(directory: Path) -> Task:
    """The task in ``directory``; ``ConfigError`` naming the file and key for anything malformed."""
    where = str(directory / TASK_FILE)
    try:
        data = yaml.safe_load((directory / TASK_FILE).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"cannot read the task ({exc.strerror}); every task directory needs one", where=where
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", where=where) from exc
    if not isinstance(data, dict):
        raise ConfigError("must be a mapping with purpose, title, fail_to_pass, ...", where=where)
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}", where=where)
    purpose = data.get("purpose")
    if purpose not in ("patch", "review"):
        raise ConfigError("purpose must be patch or review", where=where, key="purpose")
    kind = str(data.get("kind") or "pr-test")
    if kind not in KINDS:
        raise ConfigError(f"kind must be one of {', '.join(KINDS)}", where=where, key="kind")
    bug = None
    if purpose == "review":
        raw = data.get("bug")
        if not isinstance(raw, dict) or not isinstance(raw.get("path"), str) or not isinstance(raw.get("line"), int):
            raise ConfigError("a review task needs bug: {path: <file>, line: <line at the PR head>}", where=where)
        bug = BugLine(raw["path"], raw["line"])
    pr: dict[str, str | None] = dict(_read_tree(directory / "pr"))
    for path in data.get("delete") or []:
        pr[str(path)] = None
    task = Task(
        id=directory.name,
        purpose=purpose,
        kind=kind,
        title=str(data.get("title") or ""),
        body=str(data.get("body") or ""),
        base=_read_tree(directory / "base"),
        pr=pr,
        solution=_read_tree(directory / "solution"),
        hidden=_read_tree(directory / "hidden"),
        fail_to_pass=_node_ids(data, "fail_to_pass", where),
        pass_to_pass=_node_ids(data, "pass_to_pass", where),
        bug=bug,
        raw_file=data.get("raw_file") or _single(directory / "solution"),
    )
    if not task.pr:
        raise ConfigError("the task has no pr/ directory: the pull request must change something", where=where)
    if not task.fail_to_pass:
        raise ConfigError("fail_to_pass is empty: a task needs a hidden test the fix makes pass", where=where)
    if not task.solution:
        raise ConfigError("the task has no solution/ directory (the reference fix)", where=where)
    return task


def _single(solution: Path) -> str | None:
    files = list(_read_tree(solution))
    return files[0] if len(files) == 1 else None


def load_task_dir(root: Path) -> list[Task]:
    """Every task under ``root`` (each subdirectory with a task.yml), sorted by id."""
    if not root.is_dir():
        raise ConfigError(f"no such directory {str(root)!r}; give a task-set directory or humaneval[:N]", key="--tasks")
    tasks = [load_task(d) for d in sorted(root.iterdir()) if (d / TASK_FILE).is_file()]
    if not tasks:
        raise ConfigError(f"{root} has no task directories (each needs a {TASK_FILE})", key="--tasks")
    return tasks


def load_tasks(spec: str) -> list[Task]:
    """``humaneval`` / ``humaneval:N`` (the first N HumanEval problems) or a task-set directory."""
    if spec == "humaneval" or spec.startswith(("humaneval:", "humaneval[")):
        from bot.bakeoff import humaneval

        return humaneval.tasks(humaneval.parse_count(spec))
    return load_task_dir(Path(spec))
