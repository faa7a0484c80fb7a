"""The gate benchmark's own parts: the generated repository is sound, and the ratios are computed right.

No timing is asserted here: speed is measured by ``python -m benchmarks.gates`` (see docs/benchmarks.md).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.gates import (
    BenchmarkError,
    Subject,
    docstring_patch,
    raw_pytest_args,
    render,
    self_patch,
    summarize,
)
from benchmarks.gen_repo import RepoSpec, generate
from bot.types import GateSettings

TINY = RepoSpec(modules=12, seed=7)


def _run(argv: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, input=stdin, capture_output=True, text=True, check=False, timeout=120)


def _ruff() -> str:
    beside = Path(sys.executable).parent / "ruff"
    return str(beside) if beside.exists() else "ruff"


@pytest.mark.slow
def test_generated_repository_is_ruff_clean_and_its_tests_pass_before_and_after_the_patch(tmp_path: Path) -> None:
    repo = generate(tmp_path / "ledger", TINY)
    assert _run(["git", "rev-parse", f"{repo.head}~1"], repo.path).stdout.strip() == repo.base
    lint = _run([_ruff(), "check", "--no-cache", "."], repo.path)
    assert lint.returncode == 0, lint.stdout
    tests = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], repo.path)
    assert f"{repo.tests} passed" in tests.stdout, tests.stdout[-3000:]
    applied = _run(["git", "apply", "-"], repo.path, stdin=repo.patch)
    assert applied.returncode == 0, applied.stderr
    assert _run(["git", "diff", "--name-only"], repo.path).stdout.split() == [repo.patched_path]
    assert _run([_ruff(), "check", "--no-cache", "."], repo.path).returncode == 0
    after = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], repo.path)
    assert f"{repo.tests} passed" in after.stdout, after.stdout[-3000:]


def test_head_commit_is_the_pull_request_touching_a_few_modules_and_their_tests(tmp_path: Path) -> None:
    repo = generate(tmp_path / "ledger", TINY)
    changed = _run(["git", "diff", "--name-only", repo.base, repo.head], repo.path).stdout.split()
    modules = [path for path in changed if path.startswith("ledger/")]
    assert 1 <= len(modules) <= TINY.pr_modules
    assert any(path.startswith("tests/") for path in changed)
    assert repo.patched_path in modules


def test_same_seed_gives_the_same_commits_and_another_seed_does_not(tmp_path: Path) -> None:
    first = generate(tmp_path / "one", TINY)
    again = generate(tmp_path / "two", TINY)
    other = generate(tmp_path / "three", RepoSpec(modules=12, seed=8))
    assert (first.base, first.head, first.patch) == (again.base, again.head, again.patch)
    assert other.head != first.head


def test_default_size_is_realistic_without_writing_it() -> None:
    from benchmarks.gen_repo import plan

    modules = plan(RepoSpec())
    assert len(modules) == 300
    assert len({module.subpackage for module in modules}) == 6
    assert sum(module.blend_with is not None for module in modules) > 10  # cross-imports between modules


def test_generator_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        generate(tmp_path, TINY)


def _subject() -> Subject:
    return Subject(
        name="generated",
        description="tiny",
        repo=Path("."),
        base="a",
        head="b",
        patch="",
        settings=GateSettings(),
        checkout=Path("."),
        raw_pytest_args=(),
    )


def test_ratios_are_medians_of_per_round_ratios_and_judged_against_the_targets() -> None:
    samples = {"raw": [2.0, 4.0, 10.0], "cached": [2.2, 4.0, 12.0], "first": [5.0, 8.0, 30.0], "cold": [9.0, 9, 9]}
    row = summarize(_subject(), samples, {})
    assert row.medians == {"raw": 4.0, "cached": 4.0, "first": 8.0, "cold": 9.0}
    assert row.ratios["cached"] == pytest.approx(1.1)  # rounds: 1.1, 1.0, 1.2
    assert row.ratios["first"] == pytest.approx(2.5)  # rounds: 2.5, 2.0, 3.0
    assert (row.ok("cached"), row.ok("first"), row.ok("cold")) == (True, False, None)
    assert not row.passed
    table = render([row])
    assert re.search(r"1\.10 PASS", table) and re.search(r"2\.50 FAIL", table) and re.search(r"2\.25 info", table)
    assert "python -m pytest" in table


def test_summarize_refuses_uneven_samples() -> None:
    with pytest.raises(ValueError, match="same number"):
        summarize(_subject(), {"raw": [1.0, 2.0], "cached": [1.0], "first": [1.0, 2.0]}, {})


def test_raw_run_takes_the_tests_commands_pytest_arguments() -> None:
    assert raw_pytest_args('python -m pytest -q -m "not slow"') == ("-q", "-m", "not slow", "-p", "no:cacheprovider")
    with pytest.raises(BenchmarkError, match="python -m pytest"):
        raw_pytest_args("tox -e py")


def test_docstring_patch_keeps_the_module_valid_and_changes_only_its_docstring() -> None:
    multi = '"""Summary.\n\nMore.\n"""\n\nX = 1\n'
    one = '"""Summary."""\n\nX = 1\n'
    for source in (multi, one):
        patched = docstring_patch(source, "(Touched.)")
        tree = ast.parse(patched)
        assert (ast.get_docstring(tree) or "").endswith("(Touched.)")
        assert ast.dump(tree.body[1]) == ast.dump(ast.parse(source).body[1])


def test_the_self_patch_has_an_effect_the_effect_gate_sees() -> None:
    source = '"""Summary.\n\nMore.\n"""\n\nX = 1\n'
    tree = ast.parse(self_patch(source))
    assert (ast.get_docstring(tree) or "").endswith("(Touched by the gate benchmark.)")
    assert [ast.dump(node) for node in tree.body[1:]] != [ast.dump(node) for node in ast.parse(source).body[1:]]
