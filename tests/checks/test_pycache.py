"""checks.pycache: content-derived modification times and where bytecode goes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from checks import pycache, worktree
from tests.repos import GitRepo


def test_git_blob_sha_matches_git(tmp_path: Path) -> None:
    (tmp_path / "x.py").write_bytes(b"print('hi')\n")
    expected = subprocess.run(["git", "hash-object", "x.py"], cwd=tmp_path, capture_output=True, text=True).stdout
    assert pycache.git_blob_sha(b"print('hi')\n") == expected.strip()


def test_same_content_same_mtime_in_any_checkout(make_repo: Callable[..., GitRepo]) -> None:
    repo = make_repo({"a.py": "A = 1\n", "b.py": "B = 2\n", "notes.txt": "x\n"})
    blobs = worktree.blob_ids(repo.path, "HEAD")
    assert set(blobs) == {"a.py", "b.py", "notes.txt"}
    mtimes = []
    for _ in range(2):
        with worktree.worktree(repo.path, "HEAD") as root:
            (root / "b.py").write_text("B = 3\n")  # what a patch does: same size, other content
            pycache.stabilize(root, blobs, touched=["b.py"])
            mtimes.append({p: os.stat(root / p).st_mtime_ns for p in ("a.py", "b.py")})
    assert mtimes[0] == mtimes[1]
    assert mtimes[0]["a.py"] == int(blobs["a.py"][:8], 16) * 10**9
    assert mtimes[0]["b.py"] == int(pycache.git_blob_sha(b"B = 3\n")[:8], 16) * 10**9  # not the head's b.py


def test_where_bytecode_goes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GUARDRAIL_PYCACHE_DIR", str(tmp_path / "pyc"))
    assert pycache.pycache_dir() == tmp_path / "pyc"
    monkeypatch.delenv("GUARDRAIL_PYCACHE_DIR")
    monkeypatch.setenv("GUARDRAIL_CACHE_DIR", str(tmp_path / "cache"))
    assert pycache.pycache_dir() == tmp_path / "cache" / "pycache"
    assert pycache.env(None) == {"PYTHONDONTWRITEBYTECODE": "1"}
    assert pycache.env(tmp_path) == {"PYTHONPYCACHEPREFIX": str(tmp_path), "PYTHONDONTWRITEBYTECODE": ""}
