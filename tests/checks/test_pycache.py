"""checks.pycache: bytecode compiled by Guardrail, keyed by content, and where it goes."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from checks import pycache, worktree
from tests.repos import GitRepo


def test_guardrail_compiles_checked_hash_bytecode_and_skips_links(
    make_repo: Callable[..., GitRepo], tmp_path: Path
) -> None:
    repo = make_repo({"a.py": "A = 1\n", "pkg/b.py": "B = 2\n", "notes.txt": "x\n"})
    secret = tmp_path / "outside.py"
    secret.write_text("TOKEN = 'from the host'\n")
    prefix = tmp_path / "pyc"
    with worktree.worktree(repo.path, "HEAD") as root:
        (root / "link.py").symlink_to(secret)  # what a head's committed symlink would be
        pycache.compile_tree(root, ["a.py", "pkg/b.py", "notes.txt", "link.py"], prefix, sys.executable)
        compiled = sorted(p.relative_to(prefix).as_posix() for p in prefix.rglob("*.pyc"))
        tag = sys.implementation.cache_tag
        assert compiled == sorted(f"{str(root).lstrip('/')}/{n}.{tag}.pyc" for n in ("a", "pkg/b"))
        header = next(prefix.rglob("a.*.pyc")).read_bytes()[:16]
        assert header[4:8] == b"\3\0\0\0"  # checked hash-based: keyed by the source's content, not its mtime
        assert header[8:16] == importlib.util.source_hash(b"A = 1\n")


def test_where_bytecode_goes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GUARDRAIL_PYCACHE_DIR", str(tmp_path / "pyc"))
    assert pycache.pycache_dir() == tmp_path / "pyc"
    monkeypatch.delenv("GUARDRAIL_PYCACHE_DIR")
    monkeypatch.setenv("GUARDRAIL_CACHE_DIR", str(tmp_path / "cache"))
    assert pycache.pycache_dir() == tmp_path / "cache" / "pycache"
    assert pycache.env(None) == {"PYTHONDONTWRITEBYTECODE": "1"}
    assert pycache.env(tmp_path) == {"PYTHONPYCACHEPREFIX": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
