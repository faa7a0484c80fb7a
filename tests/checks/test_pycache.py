"""checks.pycache: bytecode compiled (and test modules rewritten) by Guardrail into its cache, keyed by content;
real pytest in the real jail loads it, and nothing anyone else wrote is ever loaded in its place."""

from __future__ import annotations

import importlib.util
import json
import marshal
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_timeout

from bot.types import GateSettings
from checks import proc, pycache, tests, worktree
from checks.engine import run_gates
from tests.repos import CALC, CALC_TESTS, GitRepo

TAG = sys.implementation.cache_tag
PYTEST_TAG = f"{TAG}-pytest-{pytest.__version__}"
SETTINGS = GateSettings(tests_timeout=60)
FAILING_TESTS = CALC_TESTS.replace("add(1, 2) == 3", "add(1, 2) == 4")


def store_entry(store: Path, root: Path, rel: str, tag: str = TAG) -> Path:
    source = root / rel
    return store / str(source.parent).lstrip("/") / f"{source.stem}.{tag}.pyc"


def forged_pyc(code: str, flags: bytes, hashed: bytes) -> bytes:
    """A pyc of ``code`` with the given flags and hash field: what an attacker would plant."""
    return importlib.util.MAGIC_NUMBER + flags + hashed[:8] + marshal.dumps(compile(code, "forged", "exec"))


def jailed_pytest(root: Path, store: Path, out: Path) -> tuple[proc.ProcResult, str]:
    """pytest run as the tests gate runs it (in the jail, the gate's environment), with pytest's trace in a file."""
    out.mkdir()
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--debug={out / 'trace.log'}"]
    options = proc.jail_options(SETTINGS, store, writable=(out,))
    result = proc.run(argv, cwd=root, timeout=120, env_extra=tests.import_env(root, store), **options)
    return result, (out / "trace.log").read_text()


def test_guardrail_compiles_and_rewrites_into_its_cache_only_and_skips_links(
    make_repo: Callable[..., GitRepo], tmp_path: Path
) -> None:
    test_a = "def test_a():\n    assert 1 + 1 == 2\n"
    repo = make_repo({"a.py": "A = 1\n", "pkg/b.py": "B = 2\n", "notes.txt": "x\n", "tests/test_a.py": test_a})
    secret = tmp_path / "outside.py"
    secret.write_text("TOKEN = 'from the host'\n")
    store = tmp_path / "pyc"
    files = ["a.py", "pkg/b.py", "notes.txt", "tests/test_a.py", "link.py"]
    with worktree.worktree(repo.path, "HEAD") as root:
        (root / "link.py").symlink_to(secret)  # what a head's committed symlink would be
        pycache.compile_tree(root, files, store, sys.executable)
        inside = str(root).lstrip("/")
        compiled = sorted(p.relative_to(store).as_posix() for p in (store / inside).rglob("*.pyc"))
        assert compiled == [
            f"{inside}/a.{TAG}.pyc",
            f"{inside}/pkg/b.{TAG}.pyc",
            f"{inside}/tests/test_a.{PYTEST_TAG}.pyc",  # the assertions rewritten as pytest does
            f"{inside}/tests/test_a.{TAG}.pyc",
        ]
        assert not list(root.rglob("__pycache__"))  # nothing written in the worktree
        header = store_entry(store, root, "a.py").read_bytes()[:16]
        assert header[4:8] == b"\3\0\0\0"  # checked hash-based: keyed by the source's content, not its mtime
        assert header[8:16] == importlib.util.source_hash(b"A = 1\n")
        rewritten = store_entry(store, root, "tests/test_a.py", PYTEST_TAG).read_bytes()
        assert rewritten[4:16] == b"\3\0\0\0" + importlib.util.source_hash(test_a.encode())
        assert b"@py_assert" in rewritten  # pytest's rewritten assertion, not the plain bytecode


def test_the_installations_own_bytecode_is_linked_where_the_prefix_looks(
    make_repo: Callable[..., GitRepo], tmp_path: Path
) -> None:
    # With PYTHONPYCACHEPREFIX set, Python looks for json's bytecode under the prefix, not in json/__pycache__; without
    # the link every gate run would compile the standard library and site-packages again.
    source = Path(json.__file__)
    installed = Path(importlib.util.cache_from_source(str(source)))
    assert installed.is_file()  # this interpreter's installation has compiled json
    repo = make_repo({"a.py": "A = 1\n"})
    store = tmp_path / "pyc"
    with worktree.worktree(repo.path, "HEAD") as root:
        pycache.compile_tree(root, ["a.py"], store, sys.executable)
    linked = store / str(source.parent).lstrip("/") / installed.name
    assert linked.is_symlink() and linked.resolve() == installed.resolve()
    # pytest rewrites every module of a plugin's distribution (pytest-timeout here) on import: made once, not per run
    plugin = Path(pytest_timeout.__file__)
    rewritten = store / str(plugin.parent).lstrip("/") / f"{plugin.stem}.{PYTEST_TAG}.pyc"
    assert rewritten.read_bytes()[4:16] == b"\3\0\0\0" + importlib.util.source_hash(plugin.read_bytes())


def test_the_gates_environment_reads_bytecode_from_the_cache_and_never_writes_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GUARDRAIL_PYCACHE_DIR", str(tmp_path / "pyc"))
    assert pycache.pycache_dir() == tmp_path / "pyc"
    monkeypatch.delenv("GUARDRAIL_PYCACHE_DIR")
    monkeypatch.setenv("GUARDRAIL_CACHE_DIR", str(tmp_path / "cache"))
    assert pycache.pycache_dir() == tmp_path / "cache" / "pycache"
    assert pycache.env(None) == {"PYTHONDONTWRITEBYTECODE": "1"}
    assert pycache.env(tmp_path) == {"PYTHONPYCACHEPREFIX": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}


def test_pytest_in_the_jail_loads_the_cached_rewrite_and_guardrail_does_not_redo_it(
    make_repo: Callable[..., GitRepo], tmp_path: Path
) -> None:
    repo = make_repo()
    store = tmp_path / "store"
    with worktree.worktree(repo.path, "HEAD") as root:
        pycache.compile_tree(root, ["calc/__init__.py", "tests/test_calc.py"], store, sys.executable)
        entry = store_entry(store, root, "tests/test_calc.py", PYTEST_TAG)
        made = entry.stat().st_mtime_ns
        result, trace = jailed_pytest(root, store, tmp_path / "run1")
        assert result.returncode == 0, result.stdout
        assert f"found cached rewritten pyc for {root / 'tests' / 'test_calc.py'}" in trace
        assert f"rewriting {root / 'tests' / 'test_calc.py'!r}" not in trace  # pytest did not rewrite it itself
    with worktree.worktree(repo.path, "HEAD") as root:  # a fresh worktree of the same head, at the same path
        pycache.compile_tree(root, ["calc/__init__.py", "tests/test_calc.py"], store, sys.executable)
        assert entry.stat().st_mtime_ns == made  # the store's rewrite was reused, not made again
        result, trace = jailed_pytest(root, store, tmp_path / "run2")
        assert result.returncode == 0, result.stdout
        assert f"found cached rewritten pyc for {root / 'tests' / 'test_calc.py'}" in trace


def test_a_forged_store_entry_is_never_used(make_repo: Callable[..., GitRepo], tmp_path: Path) -> None:
    # The store holds "every test passes" for the test module and for calc, once with another content's hash and
    # once as an unchecked pyc (which Python would load without looking at the source): both are made again.
    repo = make_repo({"calc/__init__.py": CALC, "tests/test_calc.py": FAILING_TESTS})
    store = tmp_path / "store"
    passing = "def test_add():\n    pass\n\n\ndef test_sub():\n    pass\n"
    wrong_calc = "def add(a, b):\n    return 3\n"
    with worktree.worktree(repo.path, "HEAD") as root:
        forged = {
            store_entry(store, root, "tests/test_calc.py", PYTEST_TAG): forged_pyc(passing, b"\3\0\0\0", b"x" * 8),
            store_entry(store, root, "tests/test_calc.py"): forged_pyc(passing, b"\1\0\0\0", b"x" * 8),
            store_entry(store, root, "calc/__init__.py"): forged_pyc(wrong_calc, b"\1\0\0\0", b"x" * 8),
        }
        for path, data in forged.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        pycache.compile_tree(root, ["calc/__init__.py", "tests/test_calc.py"], store, sys.executable)
        for path, data in forged.items():
            assert path.read_bytes() != data
        result, _ = jailed_pytest(root, store, tmp_path / "run")
        assert result.returncode == 1  # the real test_add ran, and failed
        assert "1 failed, 1 passed" in result.stdout


@pytest.mark.parametrize(
    "broken", [CALC.replace("a + b", "a * b"), CALC.replace("return a + b", "return a +")], ids=["wrong", "syntax"]
)
def test_a_pyc_committed_in_the_head_never_runs_in_place_of_the_patched_source(
    make_repo: Callable[..., GitRepo], tmp_path: Path, broken: str
) -> None:
    # The head commits an unchecked pyc of the good calc (which Python, reading the worktree's __pycache__, would load
    # without looking at calc/__init__.py); the patch breaks calc. The patched source must run: the gate rejects it.
    repo = make_repo()
    unchecked = forged_pyc(CALC, b"\1\0\0\0", importlib.util.source_hash(CALC.encode()))
    (repo.path / "calc" / "__pycache__").mkdir()
    (repo.path / "calc" / "__pycache__" / f"__init__.{TAG}.pyc").write_bytes(unchecked)
    repo.commit(message="a committed pyc")
    assert f"calc/__pycache__/__init__.{TAG}.pyc" in repo.git("ls-files")
    settings = replace(SETTINGS, ruff=False)  # ruff would catch the syntax error before the tests
    verdict = run_gates(repo.path, "HEAD~1", "HEAD", repo.diff_for({"calc/__init__.py": broken}), settings)
    assert verdict.reason == "tests", verdict
    repo.assert_no_worktree_left()


def test_bytecode_a_pull_request_writes_is_never_loaded_by_a_later_run(
    make_repo: Callable[..., GitRepo], tmp_path: Path
) -> None:
    # PR code writes "add returns 3" bytecode for calc into its own worktree's __pycache__ (with the current source's
    # hash and as an unchecked pyc) and into Guardrail's store, wherever it can; the next patch breaks add.
    store = pycache.pycache_dir()
    attack = f"""
import importlib.util, marshal, pathlib, sys

def test_plant():
    root = pathlib.Path(__file__).resolve().parents[1]
    source = (root / "calc" / "__init__.py").read_bytes()
    code = marshal.dumps(compile("def add(a, b):\\n    return 3\\n", "x", "exec"))
    pyc = importlib.util.MAGIC_NUMBER + b"\\1\\0\\0\\0" + importlib.util.source_hash(source) + code
    tag = sys.implementation.cache_tag
    targets = [root / "calc" / "__pycache__" / f"__init__.{{tag}}.pyc"]
    targets += list(pathlib.Path({str(store)!r}).rglob(f"__init__.{{tag}}.pyc"))
    for target in targets:
        try:
            target.write_bytes(pyc)
        except OSError:
            pass
"""
    repo = make_repo({"calc/__init__.py": CALC, "tests/test_calc.py": CALC_TESTS, "tests/test_plant.py": attack})
    harmless = repo.diff_for({"calc/__init__.py": CALC + "\n\nONE = 1\n"})
    first = run_gates(repo.path, "HEAD", "HEAD", harmless, SETTINGS, cache_dir=tmp_path / "c")
    assert first.accepted, first
    kept = {path: path.read_bytes() for path in store.rglob(f"calc/__init__.{TAG}.pyc")}
    assert kept
    broken = repo.diff_for({"calc/__init__.py": CALC.replace("a + b", "a * b")})
    second = run_gates(repo.path, "HEAD", "HEAD", broken, SETTINGS, cache_dir=tmp_path / "c")
    assert second.reason == "tests", second
    assert {p: d[4:8] for p, d in kept.items()} == {p: b"\3\0\0\0" for p in kept}  # Guardrail's, not the planted pyc
    repo.assert_no_worktree_left()


PLANT = """import importlib.util, marshal, pathlib, sys

source = pathlib.Path("calc/__init__.py").read_bytes()
pyc = importlib.util.MAGIC_NUMBER + b"\\1\\0\\0\\0" + importlib.util.source_hash(source)
folder = pathlib.Path("calc/__pycache__")
folder.mkdir(exist_ok=True)
(folder / f"__init__.{sys.implementation.cache_tag}.pyc").write_bytes(pyc + marshal.dumps(compile(source, "c", "exec")))
"""


def test_bytecode_the_setup_writes_is_not_kept_for_the_patched_worktree(
    make_repo: Callable[..., GitRepo], tmp_path: Path
) -> None:
    # The head's setup (PR code) leaves an unchecked pyc of the good calc; the patch breaks calc. That pyc is neither
    # kept in the setup's snapshot nor loaded in place of the patched source.
    repo = make_repo({"calc/__init__.py": CALC, "tests/test_calc.py": CALC_TESTS, "plant.py": PLANT})
    settings = replace(SETTINGS, ruff=False, setup_command="python plant.py")
    broken = repo.diff_for({"calc/__init__.py": CALC.replace("return a + b", "return a +")})
    verdict = run_gates(repo.path, "HEAD", "HEAD", broken, settings, cache_dir=tmp_path / "c")
    assert verdict.reason == "tests", verdict
    assert "SyntaxError" in next(g for g in verdict.gates if g.name == "tests").summary
    assert not list((tmp_path / "c" / "setup").rglob("__pycache__"))
    repo.assert_no_worktree_left()
