"""Build the demo repository: a tiny Python package with pytest tests and a ruff config, and a pull request that
introduces a real bug its tests catch.

    python examples/demo/make_demo.py DEST [--force]

DEST becomes a git repository with two branches:

- ``main``: ``mathkit``, a package with ``factorial`` and ``mean``; every test passes and ruff is clean.
- ``pr``: one commit, "Compute factorial with a loop", which rewrites ``factorial`` with an off-by-one
  (``range(1, n)`` instead of ``range(1, n + 1)``). ``tests/test_mathkit.py::test_factorial`` fails on it.

Then ``guardrail review --repo DEST --base main --head pr`` asks the policy's models to review the PR.
Commits use fixed dates and a fixed identity, so the same script gives the same commit ids everywhere.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

BASE_FILES = {
    "pyproject.toml": """\
[project]
name = "mathkit"
version = "0.1.0"
requires-python = ">=3.11"

[tool.ruff]
line-length = 100

[tool.ruff.lint]
select = ["E", "F", "I", "B"]

[tool.pytest.ini_options]
pythonpath = ["."]
testpaths = ["tests"]
""",
    ".github/guardrail.yml": """\
# Guardrail's settings for this repository. Read from the base branch, never from the pull request.
gates:
  tests: {command: "python -m pytest -q", timeout: 120}
""",
    "mathkit/__init__.py": '''\
"""Small arithmetic helpers."""

from mathkit.core import factorial, mean

__all__ = ["factorial", "mean"]
''',
    "mathkit/core.py": '''\
"""Factorial and mean."""

import math


def factorial(n: int) -> int:
    """n! for n >= 0."""
    if n < 0:
        raise ValueError("factorial is not defined for negative numbers")
    return math.prod(range(1, n + 1))


def mean(values: list[float]) -> float:
    """The arithmetic mean of a non-empty list."""
    if not values:
        raise ValueError("mean of an empty list")
    return sum(values) / len(values)
''',
    "tests/test_mathkit.py": """\
import pytest

from mathkit import factorial, mean


def test_factorial():
    assert factorial(0) == 1
    assert factorial(1) == 1
    assert factorial(5) == 120


def test_factorial_rejects_negative():
    with pytest.raises(ValueError):
        factorial(-1)


def test_mean():
    assert mean([1.0, 2.0, 3.0]) == 2.0
""",
}

PR_CORE = '''\
"""Factorial and mean."""


def factorial(n: int) -> int:
    """n! for n >= 0."""
    if n < 0:
        raise ValueError("factorial is not defined for negative numbers")
    result = 1
    for i in range(1, n):
        result *= i
    return result


def mean(values: list[float]) -> float:
    """The arithmetic mean of a non-empty list."""
    if not values:
        raise ValueError("mean of an empty list")
    return sum(values) / len(values)
'''

_IDENTITY = {
    "GIT_AUTHOR_NAME": "Demo Author",
    "GIT_AUTHOR_EMAIL": "demo@guardrail.invalid",
    "GIT_COMMITTER_NAME": "Demo Author",
    "GIT_COMMITTER_EMAIL": "demo@guardrail.invalid",
}


def _git(dest: Path, *args: str, date: str = "2026-01-01T12:00:00Z") -> None:
    env = {**os.environ, **_IDENTITY, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    subprocess.run(["git", *args], cwd=dest, env=env, check=True, stdout=subprocess.DEVNULL)


def _write(dest: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def build(dest: Path) -> None:
    """Create the demo repository at ``dest`` (which must not exist or be empty)."""
    dest.mkdir(parents=True, exist_ok=True)
    _git(dest, "init", "--quiet", "--initial-branch=main")
    _git(dest, "config", "commit.gpgsign", "false")
    _write(dest, BASE_FILES)
    (dest / ".gitignore").write_text("__pycache__/\n.pytest_cache/\n.ruff_cache/\n", encoding="utf-8")
    _git(dest, "add", ".")
    _git(dest, "commit", "--quiet", "-m", "mathkit: factorial and mean, with tests")
    _git(dest, "checkout", "--quiet", "-b", "pr")
    _write(dest, {"mathkit/core.py": PR_CORE})
    _git(dest, "commit", "--quiet", "-am", "Compute factorial with a loop", date="2026-01-02T12:00:00Z")
    _git(dest, "checkout", "--quiet", "main")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("dest", type=Path, help="directory to create the demo repository in")
    parser.add_argument("--force", action="store_true", help="delete DEST first if it exists")
    args = parser.parse_args(argv)
    dest: Path = args.dest
    if dest.exists() and any(dest.iterdir()):
        if not args.force:
            print(f"make_demo: {dest} exists and is not empty; pass --force to rebuild it", file=sys.stderr)
            return 2
        shutil.rmtree(dest)
    build(dest)
    print(dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
