"""Reusing compiled bytecode across gate runs, so a fresh worktree does not recompile the whole project every time.

A prepared checkout has ``__pycache__`` folders from its last run; a fresh worktree has none, and compiling a few
hundred modules (and pytest's rewriting of every test module) can cost as much as the tests themselves. So:

- the PR code runs with ``PYTHONPYCACHEPREFIX`` set to one folder of ours (nothing is written into the worktree);
  the worktree sits at a path that repeats from run to run (see :func:`checks.worktree.worktree`), so the bytecode
  of the last run is found again;
- every Python file in the worktree gets a modification time derived from its content (its git blob sha): Python
  and pytest validate cached bytecode by (mtime, size), so an unchanged file matches its cached bytecode and a
  changed one does not, whenever and in whichever checkout it was compiled. Files the patch touched are hashed the
  same way from their new content.

Bytecode of different content at the same path, size and derived mtime would be taken for valid: that needs a
collision of 32 bits of two blob shas at the same path and size.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import platformdirs

from checks.baseline import CACHE_ENV

PYCACHE_ENV = "GUARDRAIL_PYCACHE_DIR"
PYTHON_SOURCES = (".py", ".pyw")


def pycache_dir() -> Path:
    """``$GUARDRAIL_PYCACHE_DIR``; else ``pycache`` inside ``$GUARDRAIL_CACHE_DIR`` when that is set; else
    ``guardrail/pycache`` in the user's cache folder (beside ``guardrail/baselines``)."""
    override = os.environ.get(PYCACHE_ENV)
    if override:
        return Path(override)
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]) / "pycache"
    return Path(platformdirs.user_cache_dir("guardrail")) / "pycache"


def git_blob_sha(data: bytes) -> str:
    """The sha git gives a file with these bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _stamp(path: Path, blob_sha: str) -> None:
    mtime = int(blob_sha[:8], 16)  # the 32 bits a .pyc header keeps of the source's mtime
    try:
        os.utime(path, (mtime, mtime), follow_symlinks=False)
    except FileNotFoundError:
        pass  # deleted by the patch


def stabilize(root: Path, head_blobs: Mapping[str, str], touched: Iterable[str] = ()) -> None:
    """Give every Python file in ``root`` its content-derived mtime: the head's files from ``head_blobs``, the
    files the patch touched from their new content."""
    changed = set(touched)
    for path, blob in head_blobs.items():
        if path.endswith(PYTHON_SOURCES) and path not in changed:
            _stamp(root / path, blob)
    for path in changed:
        target = root / path
        if path.endswith(PYTHON_SOURCES) and target.is_file() and not target.is_symlink():
            _stamp(target, git_blob_sha(target.read_bytes()))


def env(prefix: Path | None) -> dict[str, str]:
    """Environment for Python run by the gates: bytecode under ``prefix``, or none written at all."""
    if prefix is None:
        return {"PYTHONDONTWRITEBYTECODE": "1"}
    # An empty PYTHONDONTWRITEBYTECODE counts as unset: the caller's environment may have set it.
    return {"PYTHONPYCACHEPREFIX": str(prefix), "PYTHONDONTWRITEBYTECODE": ""}
