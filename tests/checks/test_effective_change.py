"""The effective change: what the gates checked is read back from the worktree as bytes, under a fixed git
configuration, and `guardrail gate --json` reports it."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main
from bot.parse.diff import parse_diff
from checks import worktree
from tests.repos import GitRepo

pytestmark = pytest.mark.slow

CONFIG = "gates:\n  ruff: {enabled: false}\n"
CRLF = b"first\r\nsecond\r\nthird\r\n"
LATIN1 = b"caf\xe9\nna\xefve\n"


def _gate_json(repo: GitRepo, patch: bytes, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    patch_file = repo.path.parent / "patch.diff"
    patch_file.write_bytes(patch)
    config = repo.path.parent / "guardrail.yml"
    config.write_text(CONFIG)
    argv = ["gate", "--repo", str(repo.path), "--base", "main", "--head", "main", "--patch", str(patch_file)]
    code = main([*argv, "--config", str(config), "--json"])
    captured = capsys.readouterr()
    assert captured.out, captured.err
    out: dict[str, object] = json.loads(captured.out)
    assert code == 0, out
    return out


def _bytes_diff(repo: GitRepo, files: dict[str, bytes]) -> bytes:
    for name, data in files.items():
        (repo.path / name).write_bytes(data)
    done = subprocess.run(["git", "diff", "HEAD"], cwd=repo.path, capture_output=True, check=True)
    repo.git("checkout", "--", ".")
    return done.stdout


def test_crlf_and_non_utf8_bytes_survive_the_gate_and_come_back_in_the_effective_patch(
    make_repo: Callable[..., GitRepo], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo({"README.md": "x\n", "tests/test_ok.py": "def test_ok():\n    pass\n"})
    (repo.path / "win.txt").write_bytes(CRLF)
    (repo.path / "latin.txt").write_bytes(LATIN1)
    repo.git("add", "-A")
    repo.git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "bytes")
    patch = _bytes_diff(repo, {"win.txt": b"first\r\nSECOND\r\nthird\r\n", "latin.txt": b"caf\xe9\nna\xeff\n"})
    assert b"SECOND\r\n" in patch and b"\xef" in patch
    out = _gate_json(repo, patch, capsys)
    assert out["verdict"] == "accept"
    assert base64.b64decode(str(out["patch_base64"])) == patch  # byte for byte what git apply was given


HOSTILE_CONFIG = """\
[diff]
    noprefix = true
    mnemonicPrefix = true
    external = {external}
    renames = copies
    suppressBlankEmpty = true
    context = 0
[color]
    ui = always
[core]
    quotePath = false
[diff "shout"]
    textconv = tr a-z A-Z
"""


def test_a_users_git_config_cannot_change_what_is_parsed(
    make_repo: Callable[..., GitRepo], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo({"src/app.py": "a = 1\n\nb = 2\n", ".gitattributes": "*.py diff=shout\n"})
    repo.commit({"src/app.py": "a = 1\n\nb = 3\n", "src/naïve name.py": "x = 1\n"})
    clean_global = tmp_path / "clean.gitconfig"
    clean_global.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(clean_global))
    expected = worktree.diff(repo.path, "main~1", "main")
    (repo.path / "src/app.py").write_text("a = 1\n\nb = 4\n")
    expected_effective = worktree.effective_change(repo.path)
    external = tmp_path / "external.sh"
    external.write_text("#!/bin/sh\necho EXTERNAL DIFF\n")
    external.chmod(0o755)
    hostile = tmp_path / "hostile.gitconfig"
    hostile.write_text(HOSTILE_CONFIG.format(external=external))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(hostile))
    got = worktree.diff(repo.path, "main~1", "main")
    assert got == expected
    assert worktree.effective_change(repo.path) == expected_effective
    assert expected_effective.startswith(b"diff --git a/src/app.py b/src/app.py\n")
    files = parse_diff(got)
    assert [f.new_path for f in files] == ["src/app.py", "src/naïve name.py"]
    assert "\x1b[" not in got and "EXTERNAL" not in got and "B = 3" not in got
    assert files[0].hunks[0].lines == (" a = 1", " ", "-b = 2", "+b = 3")


def test_gate_patch_from_stdin_is_read_as_bytes(make_repo: Callable[..., GitRepo], tmp_path: Path) -> None:
    repo = make_repo({"README.md": "x\n", "tests/test_ok.py": "def test_ok():\n    pass\n"})
    (repo.path / "win.txt").write_bytes(CRLF)
    repo.git("add", "-A")
    repo.git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "crlf")
    patch = _bytes_diff(repo, {"win.txt": b"first\r\nsecond\r\nTHIRD \xff\r\n"})
    config = tmp_path / "guardrail.yml"
    config.write_text(CONFIG)
    argv = ["gate", "--repo", str(repo.path), "--base", "main", "--head", "main", "--patch", "-", "--json"]
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *argv, "--config", str(config)], input=patch, capture_output=True, timeout=120
    )
    out = json.loads(done.stdout)
    assert (done.returncode, out["verdict"]) == (0, "accept"), done.stderr
    assert base64.b64decode(out["patch_base64"]) == patch
