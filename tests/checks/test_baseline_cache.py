"""The baseline cache: one small JSON file per head and test command, written atomically."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.types import GateSettings
from checks import worktree
from checks.apply import Applied
from checks.baseline import Baseline, BaselineCache, default_cache_dir
from checks.patch import parse
from checks.paths import run as paths_run
from tests.repos import GitRepo

HEAD = "a" * 40


def test_store_and_load(tmp_path: Path) -> None:
    cache = BaselineCache(tmp_path / "c")
    assert cache.load(HEAD, "python -m pytest") is None
    cache.store(Baseline(HEAD, "python -m pytest", 1, {"t::a": "passed", "t::b": "failed"}))
    loaded = cache.load(HEAD, "python -m pytest")
    assert loaded is not None and loaded.cached
    assert (loaded.returncode, dict(loaded.outcomes)) == (1, {"t::a": "passed", "t::b": "failed"})
    assert cache.load(HEAD, "pytest -x") is None  # keyed by the command too
    assert [p.name for p in (tmp_path / "c").iterdir()] == [cache.path(HEAD, "python -m pytest").name]


def test_command_statuses_are_merged_into_the_tests_baseline(tmp_path: Path) -> None:
    cache = BaselineCache(tmp_path)
    cache.store(Baseline(HEAD, "pytest", 0, {"t::a": "passed"}))
    cache.store(Baseline(HEAD, "pytest", commands={"mypy src": 1}))
    cache.store(Baseline(HEAD, "pytest", commands={"flake8": 0}))
    loaded = cache.load(HEAD, "pytest")
    assert loaded is not None
    assert dict(loaded.outcomes) == {"t::a": "passed"}
    assert dict(loaded.commands) == {"mypy src": 1, "flake8": 0}


def test_a_corrupt_file_is_ignored(tmp_path: Path) -> None:
    cache = BaselineCache(tmp_path)
    cache.path(HEAD, "pytest").write_text("{not json")
    assert cache.load(HEAD, "pytest") is None
    cache.path(HEAD, "pytest").write_text(json.dumps({"format": 1, "head": "b" * 40, "tests_command": "pytest"}))
    assert cache.load(HEAD, "pytest") is None


def test_default_cache_dir_honours_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GUARDRAIL_CACHE_DIR", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x"
    monkeypatch.delenv("GUARDRAIL_CACHE_DIR")
    assert default_cache_dir().parts[-2:] == ("guardrail", "baselines")


def test_paths_gate_rejects_outside_paths_even_if_git_would_take_them(make_repo: Callable[..., GitRepo]) -> None:
    # git refuses such paths itself; the paths gate checks them again from our own reading of the headers.
    repo = make_repo()
    patch = parse("diff --git a/x b/y\nsimilarity index 100%\nrename from ../x\nrename to y\n", 10_000)
    with worktree.worktree(repo.path, "HEAD") as root:
        result = paths_run(root, Applied(patch, ()), GateSettings())
    assert result.status == "fail"
    assert ("../x", "outside-repo") in {(f.path, f.rule) for f in result.findings}
