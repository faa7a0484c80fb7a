"""Reusing compiled bytecode across gate runs, so a fresh worktree does not recompile the whole project every time.

A prepared checkout has ``__pycache__`` folders from its last run; a fresh worktree has none, and compiling a few
hundred modules can cost as much as the tests themselves. So:

- Guardrail compiles the worktree's Python files itself, before any PR code runs there, with the interpreter the
  tests use (``python -I``: compiling runs no code of the repository), into one cache folder outside the worktree
  (``PYTHONPYCACHEPREFIX``); the worktree sits at a path that repeats from run to run (see
  :func:`checks.worktree.worktree`), so the bytecode of the last run is found again;
- the bytecode is *checked hash-based* (PEP 552): Python validates it against a hash of the source's content, not
  its modification time, so bytecode is keyed by content: a changed file never matches bytecode of other content;
- PR code sees the cache read-only in the jail (``PYTHONDONTWRITEBYTECODE=1``): no pull request can write bytecode
  another one would load. (pytest's rewritten test modules are therefore rebuilt in memory on every run.)

Only regular files of the tree are compiled, never through a symbolic link, and only when their bytecode is missing
or stale.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import platformdirs

from checks import proc
from checks.baseline import CACHE_ENV

PYCACHE_ENV = "GUARDRAIL_PYCACHE_DIR"
PYTHON_SOURCES = (".py", ".pyw")
COMPILE_TIMEOUT = 300.0


def pycache_dir() -> Path:
    """``$GUARDRAIL_PYCACHE_DIR``; else ``pycache`` inside ``$GUARDRAIL_CACHE_DIR`` when that is set; else
    ``guardrail/pycache`` in the user's cache folder (beside ``guardrail/baselines``)."""
    override = os.environ.get(PYCACHE_ENV)
    if override:
        return Path(override)
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]) / "pycache"
    return Path(platformdirs.user_cache_dir("guardrail")) / "pycache"


def env(prefix: Path | None) -> dict[str, str]:
    """Environment for Python run by the gates: bytecode read from ``prefix`` (written there by Guardrail only)."""
    if prefix is None:
        return {"PYTHONDONTWRITEBYTECODE": "1"}
    return {"PYTHONPYCACHEPREFIX": str(prefix), "PYTHONDONTWRITEBYTECODE": "1"}


_COMPILE = r"""
import importlib.util, os, py_compile, stat, sys
prefix, root = sys.argv[1], os.path.realpath(sys.argv[2])
sys.pycache_prefix = prefix
mode = py_compile.PycInvalidationMode.CHECKED_HASH
for rel in sys.stdin.read().split("\0"):
    if not rel:
        continue
    src = os.path.join(root, rel)
    try:
        if not stat.S_ISREG(os.lstat(src).st_mode) or not os.path.realpath(src).startswith(root + os.sep):
            continue
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read()
        cfile = importlib.util.cache_from_source(src)
        try:
            with open(cfile, "rb") as cached:
                head = cached.read(16)
            if head[:4] == importlib.util.MAGIC_NUMBER and head[4:8] == b"\3\0\0\0":
                if head[8:16] == importlib.util.source_hash(data):
                    continue
        except OSError:
            pass
        py_compile.compile(src, cfile=cfile, dfile=src, invalidation_mode=mode, quiet=2)
    except (OSError, ValueError):
        continue
"""


def interpreter(argv: list[str]) -> str | None:
    """The Python a test or command line runs (``python ...``, a ``pytest`` script's interpreter), or None."""
    if not argv:
        return None
    program = shutil.which(argv[0])
    if program is None:
        return None
    if Path(argv[0]).name.startswith("python"):
        return program
    try:
        with open(program, "rb") as handle:
            first = handle.readline(200)
    except OSError:
        return None
    if first.startswith(b"#!") and b"python" in first:
        words = first[2:].decode("utf-8", "replace").split()
        if words and Path(words[0]).name == "env" and len(words) > 1:
            return shutil.which(words[1])
        return words[0] if words else None
    return None


def compile_tree(root: Path, files: Iterable[str], prefix: Path, python: str) -> None:
    """Compile ``files`` (paths relative to ``root``, Python sources only) into ``prefix`` with ``python``, outside
    the jail and before PR code runs in ``root``. Best effort: a file that does not compile is left to Python."""
    sources = [f for f in files if f.endswith(PYTHON_SOURCES)]
    if not sources:
        return
    prefix.mkdir(parents=True, exist_ok=True)
    proc.run(
        [python, "-I", "-c", _COMPILE, str(prefix), str(root)],
        cwd=prefix,
        timeout=COMPILE_TIMEOUT,
        input="\0".join(sources),
        isolate_network=False,
        base_env={"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C.UTF-8"},
    )
