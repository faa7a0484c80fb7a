"""Fixtures for the gate tests: real git repositories, and an environment where `python` is this interpreter."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.repos import CALC, CALC_TESTS, GitRepo


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., GitRepo]:
    """A factory: make_repo(files) -> a repository with one commit of ``files`` on branch main."""
    counter = iter(range(1000))

    def make(files: dict[str, str] | None = None, name: str = "proj") -> GitRepo:
        path = tmp_path / f"{name}{next(counter) or ''}"
        path.mkdir()
        repo = GitRepo(path)
        repo.git("init", "-q", "-b", "main")
        repo.commit(files if files is not None else {"calc/__init__.py": CALC, "tests/test_calc.py": CALC_TESTS})
        return repo

    return make


@pytest.fixture(scope="session")
def _bytecode_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pycache")


@pytest.fixture(autouse=True)
def _gate_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _bytecode_dir: Path) -> None:
    # `python -m pytest` (the default test command) must find this interpreter, which has pytest installed;
    # baselines are cached per test, never in the user's cache, and so is bytecode (per session).
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("GUARDRAIL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GUARDRAIL_PYCACHE_DIR", str(_bytecode_dir))  # shared: compile pytest once per session
