"""A patch that changes nothing a program can observe is rejected as `no effect`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.router import gate_reason
from bot.types import GateSettings, Verdict
from checks.effect import same_program
from checks.engine import run_gates
from tests.repos import CALC, GitRepo

FAST = GateSettings(tests_timeout=60)
BUGGY = CALC.replace("return a - b", "return a + b")


def gate(repo: GitRepo, patch: str, tmp_path: Path) -> Verdict:
    verdict = run_gates(repo.path, "main", "HEAD", patch, FAST, cache_dir=tmp_path / "cache")
    repo.assert_no_worktree_left()
    return verdict


NO_EFFECT = {
    "comment": BUGGY.replace("def sub(a, b):", "# subtracts b from a\ndef sub(a, b):"),
    "docstring": BUGGY.replace("def sub(a, b):", 'def sub(a, b):\n    """Subtract b from a."""'),
    "whitespace": BUGGY.replace("return a + b\n\n\ndef sub", "return a+b\n\n\n\ndef sub"),
    "module-docstring": '"""The calculator."""\n\n' + BUGGY,
}


@pytest.mark.parametrize("patched", list(NO_EFFECT.values()), ids=list(NO_EFFECT))
def test_a_patch_without_effect_is_rejected(make_repo: Callable[..., GitRepo], tmp_path: Path, patched: str) -> None:
    repo = make_repo({"calc/__init__.py": BUGGY, "tests/test_calc.py": "def test_nothing():\n    pass\n"})
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": patched}), tmp_path)
    assert (verdict.verdict, verdict.reason) == ("reject", "effect")
    assert gate_reason(verdict) == (
        "gate effect failed: no effect: the patch changes only comments, whitespace or docstrings in 1 file(s) "
        "(the same syntax tree otherwise), so it cannot fix anything"
    )
    assert {g.name: g.status for g in verdict.gates}["tests"] == "skipped"


def test_a_patch_that_changes_code_has_an_effect(make_repo: Callable[..., GitRepo], tmp_path: Path) -> None:
    repo = make_repo({"calc/__init__.py": BUGGY, "tests/test_calc.py": "def test_nothing():\n    pass\n"})
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": CALC}), tmp_path)
    assert {g.name: g.status for g in verdict.gates}["effect"] == "pass"


@pytest.mark.parametrize(
    ("before", "after", "python", "same"),
    [
        ("x = 1\n", "x = 1  # one\n", True, True),
        ("x = 1\n", "x = 2\n", True, False),
        ("x = 'a'\n", "x = 'b'\n", True, False),  # a string that is not a docstring is data
        ("def f():\n    'a'\n    return 1\n", "def f():\n    'b'\n    return 1\n", True, True),
        ("x = 1\n", "x = (\n", True, False),  # does not parse: the ruff gate names it
        ("a: 1\n", "a:   1\n", False, True),
        ("a: 1\n", "a: 2\n", False, False),
    ],
)
def test_same_program(before: str, after: str, python: bool, same: bool) -> None:
    assert same_program(before, after, python) is same
