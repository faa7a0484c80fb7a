"""`guardrail gate`: exit codes, the --json shape, and where the config comes from (the base, never the head)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main
from tests.repos import CALC, CALC_TESTS, GitRepo, alive

pytestmark = pytest.mark.slow

UNUSED_IMPORT = "import os\n\n\n" + CALC


def gate(repo: GitRepo, patch: str, *extra: str, base: str = "main", head: str = "main") -> list[str]:
    patch_file = repo.path.parent / "patch.diff"
    patch_file.write_text(patch)
    return ["gate", "--repo", str(repo.path), "--base", base, "--head", head, "--patch", str(patch_file), *extra]


def test_json_shape_and_exit_code_when_accepted(
    make_repo: Callable[..., GitRepo], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo()
    patch = repo.diff_for({"calc/__init__.py": CALC + "\n\nONE = 1\n"})
    assert main(gate(repo, patch, "--json")) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"verdict", "reason", "gates", "patch"}
    assert out["patch"] == patch  # the effective change: git diff of the head against the patched tree
    assert (out["verdict"], out["reason"]) == ("accept", None)
    assert [g["name"] for g in out["gates"]] == ["apply", "paths", "effect", "ruff", "tests"]
    for g in out["gates"]:
        assert set(g) == {"name", "status", "summary", "findings", "seconds"}
        assert g["status"] == "pass"
    repo.assert_no_worktree_left()


def test_json_and_exit_code_when_rejected(
    make_repo: Callable[..., GitRepo], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo()
    assert main(gate(repo, repo.diff_for({"calc/__init__.py": UNUSED_IMPORT}), "--json")) == 1
    out = json.loads(capsys.readouterr().out)
    assert (out["verdict"], out["reason"]) == ("reject", "ruff")
    ruff = out["gates"][3]
    assert ruff["status"] == "fail"
    assert ruff["findings"] == [
        {"path": "calc/__init__.py", "line": 1, "rule": "F401", "message": "`os` imported but unused"}
    ]
    assert out["gates"][4]["status"] == "skipped"


def test_table_output(make_repo: Callable[..., GitRepo], capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo()
    assert main(gate(repo, repo.diff_for({"tests/test_calc.py": None}))) == 1
    out = capsys.readouterr().out
    assert "paths      fail" in out
    assert "tests/test_calc.py [protected-path]" in out
    assert out.rstrip().endswith("verdict: reject (first failing gate: paths)")


def test_config_comes_from_the_base_not_the_head(
    make_repo: Callable[..., GitRepo], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo()
    repo.git("checkout", "-q", "-b", "pr")
    repo.commit({".github/guardrail.yml": "gates:\n  ruff: {enabled: false}\n"}, "PR switches ruff off")
    patch = repo.diff_for({"calc/__init__.py": UNUSED_IMPORT})
    assert main(gate(repo, patch, "--json", base="main", head="pr")) == 1
    assert json.loads(capsys.readouterr().out)["reason"] == "ruff"  # the head's config had no effect


def test_the_base_config_applies(make_repo: Callable[..., GitRepo], capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo()
    repo.commit({".github/guardrail.yml": "gates:\n  ruff: {enabled: false}\n"}, "base switches ruff off")
    assert main(gate(repo, repo.diff_for({"calc/__init__.py": UNUSED_IMPORT}), "--json")) == 0
    ruff = json.loads(capsys.readouterr().out)["gates"][3]
    assert (ruff["status"], ruff["summary"]) == ("skipped", "disabled by gates.ruff.enabled")


def test_config_flag_overrides_the_base(
    make_repo: Callable[..., GitRepo], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = make_repo()
    config = tmp_path / "guardrail.yml"
    config.write_text("gates:\n  protected_paths: {add: ['calc/**']}\n")
    patch = repo.diff_for({"calc/__init__.py": CALC + "\n\nONE = 1\n"})
    assert main(gate(repo, patch, "--json", "--config", str(config))) == 1
    assert json.loads(capsys.readouterr().out)["reason"] == "paths"


def test_unknown_config_key_is_exit_2_naming_file_line_and_key(
    make_repo: Callable[..., GitRepo], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo()
    repo.commit({".github/guardrail.yml": "gates:\n  ruff: {enabled: true}\n  tets: {timeout: 5}\n"})
    assert main(gate(repo, repo.diff_for({"calc/__init__.py": CALC + "\n\nONE = 1\n"}))) == 2
    err = capsys.readouterr().err
    assert "main:.github/guardrail.yml:3" in err
    assert "gates.tets" in err and "unknown key" in err


def test_usage_errors_are_exit_2(make_repo: Callable[..., GitRepo], capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo()
    assert main(gate(repo, "x", base="no-such-branch")) == 2
    assert "unknown revision 'no-such-branch'" in capsys.readouterr().err
    args = gate(repo, "x")
    args[args.index("--patch") + 1] = str(repo.path / "missing.diff")
    assert main(args) == 2
    assert "cannot read the patch" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["gate", "--repo", str(repo.path)])
    assert info.value.code == 2


def test_the_installed_command(make_repo: Callable[..., GitRepo]) -> None:
    repo = make_repo()
    patch = repo.diff_for({"calc/__init__.py": CALC.replace("a + b", "a - b")})
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *gate(repo, patch, "--json")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stderr
    out = json.loads(done.stdout)
    assert out["reason"] == "tests"
    assert out["gates"][4]["findings"][0]["message"].startswith("tests/test_calc.py::test_add: ")


def test_sigterm_cleans_up(make_repo: Callable[..., GitRepo]) -> None:
    """A cancelled CI job: the worktrees go away and no PR process survives."""
    repo = make_repo()
    marker = f"5151.{uuid.uuid4().int % 10**15}"
    looping = CALC.replace(
        "    return a + b",
        f"    import subprocess\n\n    subprocess.Popen(['sleep', '{marker}'])\n    while True:\n        pass",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *gate(repo, repo.diff_for({"calc/__init__.py": looping}))]
    )
    try:
        deadline = time.monotonic() + 60
        while not alive(marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert alive(marker), "the looping test never started"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 130
    finally:
        proc.kill()
    time.sleep(0.3)
    assert alive(marker) == []
    repo.assert_no_worktree_left()


def test_a_head_whose_tests_do_not_run_is_exit_3_with_the_real_error(
    make_repo: Callable[..., GitRepo], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(
        {"calc/__init__.py": "from calc._version import version\n" + CALC, "tests/test_calc.py": CALC_TESTS}
    )
    assert main(gate(repo, repo.diff_for({"calc/__init__.py": CALC}))) == 3
    out = capsys.readouterr().out
    assert "verdict: error (first failing gate: tests)" in out
    assert "the head's tests do not run: the run was interrupted (exit 2: collection errors, or Ctrl-C): " in out
    assert "ModuleNotFoundError: No module named 'calc._version'" in out
