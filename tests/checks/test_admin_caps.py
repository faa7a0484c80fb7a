"""The admin's maxima hold against a repository that asks for more: a repository config (read at the base) asking
for a billion-second timeout and no jail limits runs with the admin policy's caps, through the real jail, and says so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main
from tests.repos import CALC, CALC_TESTS, GitRepo

GREEDY_CONFIG = """\
gates:
  tests: {timeout: 1e9}
  limits: {file_size_mb: null, processes: null, open_files: 1000000, cpu_seconds: null}
"""

ADMIN_CAPS = """\
models:
  coder-local: {backend: openai, url: "http://127.0.0.1:9/v1", model: m, location: local}
gates:
  tests: {timeout: %s}
  limits: {file_size_mb: 4, processes: 40, open_files: 64}
"""

LIMITED = """
import subprocess, pytest

def test_file_size():
    with pytest.raises(OSError):
        with open("big.bin", "wb") as handle:
            handle.write(b"x" * 8 * 1024 * 1024)

def test_open_files():
    handles = []
    with pytest.raises(OSError):
        for _ in range(200):
            handles.append(open(__file__))

def test_processes():
    children = []
    with pytest.raises(OSError):
        for _ in range(80):
            children.append(subprocess.Popen(["sleep", "30"]))
    for child in children:
        child.kill()
"""

SLEEPS = """
import time

def test_sleeps_for_ever():
    time.sleep(600)
"""


def greedy_repo(make_repo: Callable[..., GitRepo], test_code: str) -> GitRepo:
    return make_repo(
        {
            "calc/__init__.py": CALC,
            "tests/test_calc.py": CALC_TESTS,
            "tests/test_greedy.py": test_code,
            ".github/guardrail.yml": GREEDY_CONFIG,
        }
    )


def gate_cli(
    repo: GitRepo, admin: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, object], str, float]:
    patch = repo.path.parent / "fix.diff"
    patch.write_text(repo.diff_for({"calc/__init__.py": CALC + "\n\nONE = 1\n"}))
    argv = ["gate", "--repo", str(repo.path), "--base", "main", "--head", "HEAD", "--patch", str(patch)]
    started = time.monotonic()
    code = main([*argv, "--admin-policy", str(admin), "--json"])
    seconds = time.monotonic() - started
    captured = capsys.readouterr()
    repo.assert_no_worktree_left()
    return code, json.loads(captured.out), captured.err, seconds


def summary_of(verdict: dict[str, object]) -> str:
    gates = verdict["gates"]
    assert isinstance(gates, list)
    return str(next(g for g in gates if g["name"] == "tests")["summary"])


def test_limits_the_repository_turned_off_still_hold(
    make_repo: Callable[..., GitRepo], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each of these tests passes only when its limit held in the jail; the repository asked for none of them.
    admin = tmp_path / "admin.yml"
    admin.write_text(ADMIN_CAPS % 120)

    code, verdict, err, _ = gate_cli(greedy_repo(make_repo, LIMITED), admin, capsys)

    assert (code, verdict["verdict"]) == (0, "accept"), verdict
    summary = summary_of(verdict)
    assert summary.startswith("5 passed") and "already failing" not in summary, summary
    said = err.splitlines()
    for line in (
        "gates.tests.timeout: the repository asked for 1000000000 s; capped at 120 s",
        "gates.limits.file_size_mb: the repository asked for no limit; capped at 4 MiB",
        "gates.limits.processes: the repository asked for no limit; capped at 40",
        "gates.limits.open_files: the repository asked for 1000000; capped at 64",
    ):
        assert sum(line in said_line for said_line in said) == 1, (line, err)
    # cpu_seconds: the admin kept the default maximum (1800 s), and the repository's null cannot lift it.
    assert "gates.limits.cpu_seconds: the repository asked for no limit; capped at 1800 s" in err


def test_a_test_that_sleeps_past_the_admins_timeout_is_stopped_at_it(
    make_repo: Callable[..., GitRepo], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = tmp_path / "admin.yml"
    admin.write_text(ADMIN_CAPS % 3)

    code, verdict, err, seconds = gate_cli(greedy_repo(make_repo, SLEEPS), admin, capsys)

    assert code != 0 and verdict["reason"] == "tests", verdict
    assert "timed out" in summary_of(verdict), verdict
    assert seconds < 60  # the repository's 1e9 s was not what stopped it
    assert "gates.tests.timeout: the repository asked for 1000000000 s; capped at 3 s by the admin policy" in err


def test_without_an_admin_policy_the_built_in_maxima_apply(
    make_repo: Callable[..., GitRepo],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No --admin-policy and no $GUARDRAIL_ADMIN_POLICY: limits stay on (the defaults are the maxima).
    monkeypatch.delenv("GUARDRAIL_ADMIN_POLICY", raising=False)
    repo = greedy_repo(make_repo, "def test_ok():\n    pass\n")
    patch = tmp_path / "fix.diff"
    patch.write_text(repo.diff_for({"calc/__init__.py": CALC + "\n\nONE = 1\n"}))
    code = main(["gate", "--repo", str(repo.path), "--base", "main", "--head", "HEAD", "--patch", str(patch)])
    err = capsys.readouterr().err
    assert code == 0
    assert "gates.tests.timeout: the repository asked for 1000000000 s; capped at 3600 s" in err
    assert "gates.limits.processes: the repository asked for no limit; capped at 1024" in err
    assert "gates.limits.file_size_mb: the repository asked for no limit; capped at 1024 MiB" in err
