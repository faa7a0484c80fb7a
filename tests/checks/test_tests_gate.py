"""The tests gate: exit status and report agree or the run is not a pass; the head is judged first; a verified patch
says which of the head's failing tests it fixes. Real git repositories, real pytest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.router import gate_reason
from bot.types import GateResult, GateSettings, Verdict
from checks.engine import run_gates
from tests.repos import CALC, CALC_TESTS, GitRepo

pytestmark = pytest.mark.slow
FAST = GateSettings(tests_timeout=60)
BUGGY = CALC.replace("return a - b", "return a + b")  # test_sub fails at the head


def gate(repo: GitRepo, patch: str, tmp_path: Path, settings: GateSettings = FAST) -> Verdict:
    verdict = run_gates(repo.path, "main", "HEAD", patch, settings, cache_dir=tmp_path / "cache")
    repo.assert_no_worktree_left()
    return verdict


def the_tests_gate(verdict: Verdict) -> GateResult:
    return next(g for g in verdict.gates if g.name == "tests")


# A plugin that fails the session (exit 1) once the run has a given marker file, whatever the tests did: what a
# coverage threshold or a session-level plugin does.
SESSION_FAILER = """import os


def pytest_sessionfinish(session, exitstatus):
    if os.path.exists(os.path.join(str(session.config.rootpath), "calc", "FAIL_SESSION")):
        session.exitstatus = 1
"""


def test_exit_1_with_no_failing_test_in_the_report_is_not_a_pass(
    make_repo: Callable[..., GitRepo], tmp_path: Path
) -> None:
    repo = make_repo({"calc/__init__.py": CALC, "tests/test_calc.py": CALC_TESTS, "conftest.py": SESSION_FAILER})
    verdict = gate(repo, repo.diff_for({"calc/FAIL_SESSION": "x\n"}), tmp_path)
    assert (verdict.verdict, verdict.reason) == ("reject", "tests")
    summary = the_tests_gate(verdict).summary
    assert "exited 1" in summary and "its report has no failing test" in summary


def test_a_head_whose_run_exits_1_with_no_failure_is_an_error(
    make_repo: Callable[..., GitRepo], tmp_path: Path
) -> None:
    repo = make_repo(
        {
            "calc/__init__.py": CALC,
            "calc/FAIL_SESSION": "x\n",
            "tests/test_calc.py": CALC_TESTS,
            "conftest.py": SESSION_FAILER,
        }
    )
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": BUGGY}), tmp_path)
    assert (verdict.verdict, verdict.reason) == ("error", "tests")
    assert the_tests_gate(verdict).summary.startswith("the head's tests do not run: `python -m pytest")


def test_a_head_that_cannot_collect_is_an_error_naming_the_real_error(
    make_repo: Callable[..., GitRepo], tmp_path: Path
) -> None:
    files = {
        "src/pkg/__init__.py": "from pkg._version import __version__\n\n\ndef double(x):\n    return x + x\n",
        "tests/test_pkg.py": "from pkg import double\n\n\ndef test_double():\n    assert double(2) == 4\n",
        ".gitignore": "_version.py\n",
    }
    repo = make_repo(files)
    fix = files["src/pkg/__init__.py"].replace("x + x", "2 * x")
    verdict = gate(repo, repo.diff_for({"src/pkg/__init__.py": fix}), tmp_path)
    assert (verdict.verdict, verdict.reason) == ("error", "tests")
    summary = the_tests_gate(verdict).summary
    assert summary.startswith(
        "the head's tests do not run: the run was interrupted (exit 2: collection errors, or Ctrl-C): "
        "ModuleNotFoundError: No module named 'pkg._version'"
    )
    assert "not the patch's fault" in summary and "gates.setup" in summary
    assert "rootdir" not in summary
    assert gate_reason(verdict).startswith("gate tests could not run: the head's tests do not run")


def test_a_usage_error_quotes_pytests_own_message(make_repo: Callable[..., GitRepo], tmp_path: Path) -> None:
    repo = make_repo()
    settings = GateSettings(tests_timeout=60, tests_command="python -m pytest --no-such-flag")
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": CALC + "\n\nONE = 1\n"}), tmp_path, settings)
    assert verdict.verdict == "error"
    summary = the_tests_gate(verdict).summary
    assert "pytest was called wrongly (exit 4: usage error): unrecognized arguments: --no-such-flag" in summary


def test_a_head_with_no_tests_is_an_error_not_a_rejection(make_repo: Callable[..., GitRepo], tmp_path: Path) -> None:
    repo = make_repo({"calc/__init__.py": CALC, "tests/helpers.py": "X = 1\n"})
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": CALC + "\n\nONE = 1\n"}), tmp_path)
    assert verdict.verdict == "error"
    assert "the head's tests do not run: no tests were collected (exit 5)" in the_tests_gate(verdict).summary


def test_a_patch_that_breaks_collection_is_rejected_with_its_error(
    make_repo: Callable[..., GitRepo], tmp_path: Path
) -> None:
    repo = make_repo()
    verdict = gate(
        repo, repo.diff_for({"calc/__init__.py": CALC + "\nraise RuntimeError('boom at import')\n"}), tmp_path
    )
    assert (verdict.verdict, verdict.reason) == ("reject", "tests")
    assert the_tests_gate(verdict).summary.startswith(
        "the run was interrupted (exit 2: collection errors, or Ctrl-C): RuntimeError: boom at import"
    )


def test_a_fix_lists_the_tests_it_fixes(make_repo: Callable[..., GitRepo], tmp_path: Path) -> None:
    repo = make_repo({"calc/__init__.py": BUGGY, "tests/test_calc.py": CALC_TESTS})
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": CALC}), tmp_path)
    assert verdict.accepted
    result = the_tests_gate(verdict)
    assert [f.message for f in result.fixed] == [
        "tests/test_calc.py::test_sub: failed at the head, passes with the patch"
    ]
    assert result.remaining == ()
    assert "2 passed, fixes 1 test(s) failing at the head" in result.summary


def test_a_patch_lists_the_heads_failing_tests_it_leaves_failing(
    make_repo: Callable[..., GitRepo], tmp_path: Path
) -> None:
    repo = make_repo({"calc/__init__.py": BUGGY, "tests/test_calc.py": CALC_TESTS})
    other = BUGGY.replace("def add(a, b):\n    return a + b", "def add(a, b):\n    total = a + b\n    return total")
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": other}), tmp_path)
    result = the_tests_gate(verdict)
    assert result.fixed == ()
    assert [f.message for f in result.remaining] == [
        "tests/test_calc.py::test_sub: failed at the head, failed with the patch"
    ]
    assert "1 failing at the head still fail (not blamed)" in result.summary


def test_skipped_tests_say_why(make_repo: Callable[..., GitRepo], tmp_path: Path) -> None:
    skipping = (
        CALC_TESTS
        + "\n\nimport pytest\n\n\n@pytest.mark.skip(reason='needs the C extension')\ndef test_fast():\n    pass\n"
    )
    repo = make_repo({"calc/__init__.py": CALC, "tests/test_calc.py": skipping})
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": CALC + "\n\nONE = 1\n"}), tmp_path)
    assert "skipped because: 'needs the C extension' x1" in the_tests_gate(verdict).summary


def test_a_regression_names_the_pytest_node_id(make_repo: Callable[..., GitRepo], tmp_path: Path) -> None:
    repo = make_repo()
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": CALC.replace("a + b", "a * b")}), tmp_path)
    assert gate_reason(verdict) == "gate tests failed: tests/test_calc.py::test_add"
    assert the_tests_gate(verdict).findings[0].message.startswith("tests/test_calc.py::test_add: ")
