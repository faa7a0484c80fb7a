"""Reusing compiled bytecode across gate runs, so a fresh worktree does not recompile the project every time.

A developer's checkout has ``__pycache__`` folders from its last run; a fresh worktree has none, and compiling a few
hundred modules, plus pytest's assertion rewriting of every test module, can cost more than the tests themselves.
So, before any PR code runs in a worktree, Guardrail itself (:func:`compile_tree`, with the interpreter the tests
use, ``python -I``: no code of the repository runs) fills one cache folder outside the worktree, laid out as
``PYTHONPYCACHEPREFIX`` expects (the tests run with that prefix, and ``PYTHONDONTWRITEBYTECODE=1``):

- the worktree's Python files, compiled; the worktree sits at a path that repeats from run to run (see
  :func:`checks.worktree.worktree`), so what the last run compiled is found again;
- its test modules (``test_*.py``, ``*_test.py``, ``conftest.py``) with their assertions rewritten by that
  interpreter's own pytest, under pytest's file name (``<name>.cpython-311-pytest-<version>.pyc``, where pytest looks
  under the prefix);
- links to the bytecode the interpreter's installation already has in its own ``__pycache__`` folders (standard
  library, site-packages, pytest plugins' rewritten modules): with a prefix set, Python looks for those under the
  prefix too, and would otherwise recompile them in memory on every run; and, where the installation has no rewritten
  copy, the modules of installed pytest plugins (entry point group ``pytest11``) rewritten by Guardrail. Done again
  when an installation folder changes.

Guardrail's own entries are *checked hash-based* (PEP 552; pytest 9.1+ checks its rewritten modules the same way):
Python validates them against a hash of the source's content, not its modification time, so they are keyed by
content, and an entry whose hash does not match what Guardrail just read is made again. PR code sees the cache
read-only in the jail: no pull request can write bytecode another run would load. The installation's bytecode has
the trust of the installation itself (read-only in the jail, as in a developer's shell).

Not cached (done in memory on every run, as without a cache): a module that does not compile; a test module whose
rewriting warns (the run must see the warning); test modules of other ``python_files`` patterns; every test module
when the repository sets ``enable_assertion_pass_hook`` (the rewritten code differs then) or when the interpreter's
pytest predates the checked-hash format. Only regular files of the tree are read, never through a symbolic link.
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


# Runs as `python -I -c _COMPILE STORE ROOT REWRITE` with NUL-separated relative paths on stdin. For each source:
# the store entry (STORE + absolute source path, as PYTHONPYCACHEPREFIX lays it out) is kept when its checked hash
# matches the content just read, else made again; so is pytest's rewritten module for a test file. Then, once per
# state of the interpreter's installation, every bytecode file in its own __pycache__ folders is linked into STORE
# at the place PYTHONPYCACHEPREFIX looks for it.
_COMPILE = r"""
import ast, hashlib, importlib.util, inspect, io, json, os, py_compile, stat, sys, warnings
store, root, rewrite_tests = sys.argv[1], os.path.realpath(sys.argv[2]), sys.argv[3] == "1"
sys.dont_write_bytecode = True  # -I ignores PYTHONDONTWRITEBYTECODE; the store holds what is written below only
sys.pycache_prefix = store
MAGIC, CHECKED, TAG = importlib.util.MAGIC_NUMBER, b"\3\0\0\0", sys.implementation.cache_tag
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
            head = handle.read(16)
    except OSError:
        return False
    return head[:4] == MAGIC and head[4:8] == CHECKED and head[8:16] == digest

def write_atomic(entry, data):
    os.makedirs(os.path.dirname(entry), exist_ok=True)
    staging = f"{entry}.{os.getpid()}"
    with open(staging, "wb") as handle:
        handle.write(data)
    os.replace(staging, entry)

def drop(entry):
    try:
        os.unlink(entry)
    except FileNotFoundError:
        pass

def module_pyc(src, data, digest):
    entry = importlib.util.cache_from_source(src)
    if not fresh(entry, digest):
        mode = py_compile.PycInvalidationMode.CHECKED_HASH
        py_compile.compile(src, cfile=entry, dfile=src, invalidation_mode=mode, quiet=2)

def rewritten_pyc(src, data, digest):
    entry = os.path.join(store + os.path.dirname(src), os.path.basename(src)[:-3] + f".{PYTEST_TAG}.pyc")
    if fresh(entry, digest) or rewriter() is None:
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            tree = ast.parse(data, filename=src)
            rewriter().rewrite_asserts(tree, data, src, None)
            code = compile(tree, src, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            code = None
    if code is None or caught:  # pytest rewrites it itself, and reports what it finds
        drop(entry)
        return
    buffer = io.BytesIO()
    rewriter()._write_pyc_fp(buffer, digest, code)
    write_atomic(entry, buffer.getvalue())

def one(rel):
    src = os.path.join(root, rel)
    try:
        if not stat.S_ISREG(os.lstat(src).st_mode) or not os.path.realpath(src).startswith(root + os.sep):
            return
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read()
        digest = importlib.util.source_hash(data)
        module_pyc(src, data, digest)
        if PYTEST_TAG and is_test(os.path.basename(src)):
            if rewrite_tests:
                rewritten_pyc(src, data, digest)
            else:  # the repository wants pytest's assertion-pass hook: pytest rewrites it itself, every run
                drop(os.path.join(store + os.path.dirname(src), os.path.basename(src)[:-3] + f".{PYTEST_TAG}.pyc"))
    except (OSError, ValueError):
        return

def installation():
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    found = []
    for entry in sys.path:
        real = os.path.realpath(entry) if entry else ""
        if entry and os.path.isdir(entry) and any(real == p or real.startswith(p + os.sep) for p in prefixes):
            found.append(entry)
    return found

def link(target, at):
    try:
        if os.readlink(at) == target:
            return
    except OSError:
        pass
    os.makedirs(os.path.dirname(at), exist_ok=True)
    staging = f"{at}.{os.getpid()}"
    os.symlink(target, staging)
    os.replace(staging, at)

def mirror():
    tops = installation()
    state = [[top, os.stat(top).st_mtime_ns] for top in tops]
    key = hashlib.sha256(f"{sys.executable}\0{sys.version}".encode()).hexdigest()[:16]
    stamp = os.path.join(store, ".installations", key)
    try:
        with open(stamp, encoding="utf-8") as handle:
            if json.load(handle) == state:
                return
    except (OSError, ValueError):
        pass
    ours = tuple(f".{tag}.pyc" for tag in (TAG, PYTEST_TAG) if tag)
    for top in tops:
        for folder, dirs, files in os.walk(top):
            if "__pycache__" not in dirs:
                continue
            dirs.remove("__pycache__")
            cache = os.path.join(folder, "__pycache__")
            try:
                names = os.listdir(cache)
            except OSError:
                continue
            for name in names:
                if name.endswith(ours):
                    try:
                        link(os.path.join(cache, name), os.path.join(store + folder, name))
                    except OSError:
                        continue
    if PYTEST_TAG:
        for src in plugin_sources(tops):
            try:
                with open(src, "rb") as handle:
                    data = handle.read()
                rewritten_pyc(src, data, importlib.util.source_hash(data))
            except (OSError, ValueError):
                continue
    write_atomic(stamp, json.dumps(state).encode())

def plugin_sources(tops):
    # pytest rewrites every module of a distribution that registers a plugin (entry point group pytest11)
    from importlib.metadata import distributions
    found = []
    for dist in distributions():
        try:
            if not any(point.group == "pytest11" for point in dist.entry_points):
                continue
            for file in dist.files or ():
                path = os.path.normpath(str(dist.locate_file(file)))  # a RECORD entry may hold ../
                if path.endswith(".py") and any(path.startswith(top + os.sep) for top in tops):
                    found.append(path)
        except (OSError, ValueError, TypeError, AttributeError):
            continue
    return found

for rel in sys.stdin.read().split("\0"):
    if rel:
        one(rel)
mirror()
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


def compile_tree(root: Path, files: Iterable[str], prefix: Path, python: str) -> None:
    """Compile ``files`` (paths relative to ``root``, Python sources only) into ``prefix`` with ``python``, with the
    test modules' assertions rewritten as pytest does, and link the installation's bytecode there (see the module's
    docstring); outside the jail, before PR code runs in ``root``. Best effort: a file that does not compile or
    rewrite is left to Python and pytest."""
    sources = [f for f in files if f.endswith(PYTHON_SOURCES)]
    if not sources:
        return
    prefix.mkdir(parents=True, exist_ok=True)
    rewrite_tests = "0" if assertion_pass_hook(root) else "1"
    proc.run(
        [python, "-I", "-c", _COMPILE, str(prefix), str(root), rewrite_tests],
        cwd=prefix,
        timeout=COMPILE_TIMEOUT,
        input="\0".join(sources),
        isolate_network=False,
        base_env={"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C.UTF-8"},
    )
