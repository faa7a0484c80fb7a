"""Reusing compiled bytecode across gate runs, so a fresh worktree does not recompile the project every time.

A developer's checkout has ``__pycache__`` folders from its last run; a fresh worktree has none, and compiling a few
hundred modules, and pytest's assertion rewriting of every test module, can cost as much as the tests themselves.
So, before any PR code runs in a worktree, Guardrail itself (:func:`compile_tree`):

- compiles the worktree's Python files with the interpreter the tests use (``python -I``: compiling runs no code of
  the repository) into its **store** (:func:`pycache_dir`, outside every worktree and never shown to PR code), laid
  out by source path; the worktree sits at a path that repeats from run to run (see
  :func:`checks.worktree.worktree`), so what the last run compiled is found again;
- rewrites the test modules' assertions as pytest does (``test_*.py``, ``*_test.py``, ``conftest.py``), with pytest's
  own rewriter from that interpreter, into the same store, under pytest's file name
  (``<name>.cpython-311-pytest-<version>.pyc``);
- **copies** (never links) both into the worktree's own ``__pycache__`` folders, replacing whatever a commit put there.

Everything is *checked hash-based* (PEP 552): Python, and pytest from 9.1 on, validate the bytecode against a hash of
the source's content, not its modification time. The store is keyed by content: a store entry is reused only when
its hash matches the file Guardrail just read, else it is compiled again. PR code never sees the store: what it
writes to its worktree's ``__pycache__`` is discarded with the worktree, and the tests run with
``PYTHONDONTWRITEBYTECODE=1``. The interpreter's own modules (standard library, site-packages, pytest plugins) load
from the installation's ``__pycache__``, read-only in the jail, exactly as in a developer's shell.

Not reused (redone in memory on every run, as without a cache): a module that does not compile; a test module whose
rewriting warns (the run must see the warning); test modules of other ``python_files`` patterns; every test module
when the repository sets ``enable_assertion_pass_hook`` (the rewritten code differs then) or when the interpreter's
pytest is older than the checked-hash format. Only regular files of the tree are read, never through a symbolic link.
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
PYTEST_CONFIGS = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
MAX_CONFIG_BYTES = 1024 * 1024
# The tests' environment: bytecode is read from the worktree's __pycache__ (placed there by Guardrail), never written.
ENV = {"PYTHONDONTWRITEBYTECODE": "1"}


def pycache_dir() -> Path:
    """``$GUARDRAIL_PYCACHE_DIR``; else ``pycache`` inside ``$GUARDRAIL_CACHE_DIR`` when that is set; else
    ``guardrail/pycache`` in the user's cache folder (beside ``guardrail/baselines``)."""
    override = os.environ.get(PYCACHE_ENV)
    if override:
        return Path(override)
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]) / "pycache"
    return Path(platformdirs.user_cache_dir("guardrail")) / "pycache"


def env() -> dict[str, str]:
    """Environment for Python run by the gates: bytecode read where Guardrail placed it, never written."""
    return dict(ENV)


# Runs as `python -I -c _COMPILE STORE ROOT REWRITE` with NUL-separated relative paths on stdin. For each source:
# the store entry (store + absolute source path, like PYTHONPYCACHEPREFIX) is reused when its checked hash matches
# the content just read, else made again; then it is copied into ROOT's __pycache__. Whatever was at that name in
# __pycache__ goes first (a commit may hold an unchecked pyc that would otherwise win), also when nothing replaces it.
_COMPILE = r"""
import ast, importlib.util, inspect, io, os, py_compile, stat, sys, warnings
store, root, rewrite_tests = sys.argv[1], os.path.realpath(sys.argv[2]), sys.argv[3] == "1"
sys.dont_write_bytecode = True  # -I ignores PYTHONDONTWRITEBYTECODE; the store holds the tree's bytecode only
MAGIC, CHECKED, TAG = importlib.util.MAGIC_NUMBER, b"\3\0\0\0", sys.implementation.cache_tag
sys.pycache_prefix = store
try:
    from _pytest._version import version as _pytest_version
    PYTEST_TAG = f"{TAG}-pytest-{_pytest_version}"
except ImportError:
    PYTEST_TAG = None
_rewriter = []

def rewriter():
    if not _rewriter:
        try:
            from _pytest.assertion import rewrite
            writes = inspect.signature(rewrite._write_pyc_fp).parameters
            usable = rewrite.PYTEST_TAG == PYTEST_TAG and "source_hash" in writes
        except (ImportError, AttributeError, TypeError, ValueError):
            usable = False
        _rewriter.append(rewrite if usable else None)
    return _rewriter[0]

def is_test(name):
    return name == "conftest.py" or (name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")))

def fresh(entry, digest):
    try:
        with open(entry, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    return data if data[:4] == MAGIC and data[4:8] == CHECKED and data[8:16] == digest else None

def write_atomic(entry, data):
    os.makedirs(os.path.dirname(entry), exist_ok=True)
    staging = f"{entry}.{os.getpid()}"
    with open(staging, "wb") as handle:
        handle.write(data)
    os.replace(staging, entry)

def module_pyc(src, data, digest):
    entry = importlib.util.cache_from_source(src)
    found = fresh(entry, digest)
    mode = py_compile.PycInvalidationMode.CHECKED_HASH
    if found is None and py_compile.compile(src, cfile=entry, dfile=src, invalidation_mode=mode, quiet=2):
        found = fresh(entry, digest)
    return found

def rewritten_pyc(src, data, digest):
    entry = os.path.join(store + os.path.dirname(src), os.path.basename(src)[:-3] + f".{PYTEST_TAG}.pyc")
    found = fresh(entry, digest)
    if found is not None or rewriter() is None:
        return found
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            tree = ast.parse(data, filename=src)
            rewriter().rewrite_asserts(tree, data, src, None)
            code = compile(tree, src, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            return None
    if caught:
        return None
    buffer = io.BytesIO()
    rewriter()._write_pyc_fp(buffer, digest, code)
    write_atomic(entry, buffer.getvalue())
    return buffer.getvalue()

def place(folder, name, data):
    target = os.path.join(folder, name)
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            os.unlink(folder)
    except FileNotFoundError:
        pass
    try:
        if not stat.S_ISDIR(os.lstat(target).st_mode):
            os.unlink(target)
    except (FileNotFoundError, NotADirectoryError):
        pass
    if data is None:
        return
    try:
        os.mkdir(folder)
    except FileExistsError:
        pass
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)

def one(rel):
    src = os.path.join(root, rel)
    try:
        if not stat.S_ISREG(os.lstat(src).st_mode) or not os.path.realpath(src).startswith(root + os.sep):
            return
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read()
        digest = importlib.util.source_hash(data)
        folder, stem = os.path.join(os.path.dirname(src), "__pycache__"), os.path.basename(src).rsplit(".", 1)[0]
        place(folder, f"{stem}.{TAG}.pyc", module_pyc(src, data, digest))
        if PYTEST_TAG and is_test(os.path.basename(src)):
            place(folder, f"{stem}.{PYTEST_TAG}.pyc", rewritten_pyc(src, data, digest) if rewrite_tests else None)
    except (OSError, ValueError):
        return

for rel in sys.stdin.read().split("\0"):
    if rel:
        one(rel)
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


def assertion_pass_hook(root: Path) -> bool:
    """Whether the repository's pytest configuration in ``root`` mentions ``enable_assertion_pass_hook`` (then the
    rewritten test modules differ from what Guardrail would make, and pytest rewrites them itself). Regular files only,
    never through a link; the first MiB of each."""
    for name in PYTEST_CONFIGS:
        path = root / name
        if path.is_symlink() or not path.is_file():
            continue
        with open(path, "rb") as handle:
            if b"enable_assertion_pass_hook" in handle.read(MAX_CONFIG_BYTES):
                return True
    return False


def compile_tree(root: Path, files: Iterable[str], store: Path, python: str) -> None:
    """Compile ``files`` (paths relative to ``root``, Python sources only) into ``store`` with ``python`` and copy
    the bytecode into ``root``'s ``__pycache__`` folders, with the test modules' assertions rewritten as pytest does
    (see the module's docstring). Call it before any PR code runs in ``root``. Best effort: a file that does not
    compile or rewrite is left to Python and pytest, which compile it in memory."""
    sources = [f for f in files if f.endswith(PYTHON_SOURCES)]
    if not sources:
        return
    store.mkdir(parents=True, exist_ok=True)
    rewrite_tests = "0" if assertion_pass_hook(root) else "1"
    proc.run(
        [python, "-I", "-c", _COMPILE, str(store), str(root), rewrite_tests],
        cwd=store,
        timeout=COMPILE_TIMEOUT,
        input="\0".join(sources),
        isolate_network=False,
        base_env={"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C.UTF-8"},
    )
