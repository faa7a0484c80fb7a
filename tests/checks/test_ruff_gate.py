"""The ruff gate cannot be talked out of a finding: not by the repository's `fix = true`, not by a suppression
comment the patch adds, not by a file ruff cannot parse. Real git repositories, real ruff."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.router import gate_reason
from bot.types import GateResult, GateSettings, Verdict
from checks import apply, ruff, worktree
from checks.engine import run_gates
from tests.repos import CALC, CALC_TESTS, GitRepo

FAST = GateSettings(tests_timeout=60)
FIX_CONFIG = '[tool.ruff]\nfix = true\nunsafe-fixes = true\noutput-format = "full"\nshow-fixes = true\n'


def gate(repo: GitRepo, patch: str, tmp_path: Path) -> Verdict:
    verdict = run_gates(repo.path, "main", "HEAD", patch, FAST, cache_dir=tmp_path / "cache")
    repo.assert_no_worktree_left()
    return verdict


def ruff_result(verdict: Verdict) -> GateResult:
    return next(g for g in verdict.gates if g.name == "ruff")


def test_ruff_never_rewrites_the_files_it_judges(make_repo: Callable[..., GitRepo]) -> None:
    repo = make_repo({"pyproject.toml": FIX_CONFIG, "calc/__init__.py": CALC, "tests/test_calc.py": CALC_TESTS})
    patched = "import os\n\n\n" + CALC
    patch = repo.diff_for({"calc/__init__.py": patched})
    with worktree.worktree(repo.path, "HEAD") as root:
        applied_result, applied = apply.run(root, patch, FAST)
        assert applied is not None, applied_result
        result = ruff.run(root, applied, FAST)
        assert (root / "calc/__init__.py").read_text() == patched  # ruff fixed nothing in place
        assert not (root / ".ruff_cache").exists()
    assert result.status == "fail"
    assert [(f.path, f.line, f.rule) for f in result.findings] == [("calc/__init__.py", 1, "F401")]


def test_a_fix_true_config_does_not_let_an_unused_import_through(
    make_repo: Callable[..., GitRepo], tmp_path: Path
) -> None:
    repo = make_repo({"pyproject.toml": FIX_CONFIG, "calc/__init__.py": CALC, "tests/test_calc.py": CALC_TESTS})
    # eval() has no automatic fix: with `fix = true` ruff would print source code instead of JSON for it
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": "import os\n\n\n" + CALC + "\nX = eval('1')\n"}), tmp_path)
    assert verdict.verdict == "reject" and verdict.reason == "ruff"
    assert {f.rule for f in ruff_result(verdict).findings} >= {"F401"}


SUPPRESSED = [
    ("line-noqa-code", "import os  # noqa: F401\n\n\n" + CALC),
    ("line-noqa-bare", "import os  # noqa\n\n\n" + CALC),
    ("file-ruff-noqa", "# ruff: noqa\nimport os\n\n\n" + CALC),
    ("file-ruff-noqa-code", "# ruff: noqa: F401\nimport os\n\n\n" + CALC),
    ("file-flake8-noqa", "# flake8: noqa\nimport os\n\n\n" + CALC),
    ("range-disable", "# ruff: disable[F401]\nimport os\n# ruff: enable[F401]\n\n\n" + CALC),
]


@pytest.mark.parametrize("patched", [text for _, text in SUPPRESSED], ids=[name for name, _ in SUPPRESSED])
def test_a_new_suppression_comment_over_a_new_finding_is_the_finding(
    make_repo: Callable[..., GitRepo], tmp_path: Path, patched: str
) -> None:
    repo = make_repo()
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": patched}), tmp_path)
    assert verdict.reason == "ruff"
    result = ruff_result(verdict)
    f401 = [f for f in result.findings if f.rule == "F401"]
    assert [f.message for f in f401] == ["`os` imported but unused (hidden by a suppression comment the patch adds)"]
    assert "1 of them hidden by a suppression comment the patch adds" in result.summary
    assert "F401 calc/__init__.py:" in gate_reason(verdict)


def test_an_isort_skip_file_comment_does_not_hide_unsorted_imports(
    make_repo: Callable[..., GitRepo], tmp_path: Path
) -> None:
    config = '[tool.ruff.lint]\nselect = ["I"]\n'
    code = "import sys\nimport os\n\nprint(sys, os)\n"
    repo = make_repo({"pyproject.toml": config, "calc/__init__.py": CALC, "calc/io.py": "print(1)\n"})
    verdict = gate(repo, repo.diff_for({"calc/io.py": "# isort: skip_file\n" + code}), tmp_path)
    assert verdict.reason == "ruff"
    assert [f.rule for f in ruff_result(verdict).findings] == ["I001"]


def test_the_heads_own_exemptions_still_hold(make_repo: Callable[..., GitRepo], tmp_path: Path) -> None:
    repo = make_repo({"calc/__init__.py": "# ruff: noqa\n" + CALC, "tests/test_calc.py": CALC_TESTS})
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": "# ruff: noqa\nimport os\n" + CALC}), tmp_path)
    assert verdict.accepted, verdict  # the project exempted this file before the patch


def test_suppressing_an_old_finding_is_neither_blamed_nor_credited(
    make_repo: Callable[..., GitRepo], tmp_path: Path
) -> None:
    repo = make_repo({"calc/__init__.py": "import os\n\n\n" + CALC, "tests/test_calc.py": CALC_TESTS})
    patched = "import os  # noqa: F401\n\n\n" + CALC + "\n\nONE = 1\n"
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": patched}), tmp_path)
    result = ruff_result(verdict)
    assert result.status == "pass" and result.fixed == ()
    assert "1 finding(s) were already there" in result.summary


def test_removing_a_finding_is_listed_as_evidence(make_repo: Callable[..., GitRepo], tmp_path: Path) -> None:
    repo = make_repo({"calc/__init__.py": "import os\n\n\n" + CALC, "tests/test_calc.py": CALC_TESTS})
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": CALC}), tmp_path)
    result = ruff_result(verdict)
    assert [(f.path, f.line, f.rule) for f in result.fixed] == [("calc/__init__.py", 1, "F401")]
    assert "removes 1 finding(s) the head had" in result.summary


def test_a_file_ruff_cannot_parse_is_a_finding_not_a_gate_error(
    make_repo: Callable[..., GitRepo], tmp_path: Path
) -> None:
    repo = make_repo()
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": CALC.replace("def sub(a, b):", "def sub(a, b:")}), tmp_path)
    result = ruff_result(verdict)
    assert (verdict.verdict, verdict.reason, result.status) == ("reject", "ruff", "fail")
    assert {f.rule for f in result.findings} == {"invalid-syntax"}
    assert "syntax error: ruff cannot parse calc/__init__.py" in result.summary


def test_neutralised_comments_keep_line_lengths() -> None:
    text = "import os  # noqa: F401\nx = 1  # noqa  # why\n"
    neutral, count = ruff.neutralise(text, [0, 1])
    assert count == 2
    assert [len(line) for line in neutral.splitlines()] == [len(line) for line in text.splitlines()]
    assert "noqa" not in neutral and neutral.splitlines()[1].endswith("# why")
