"""Protected by default: every file that changes how pytest, ruff or Python are configured or what they import.

Each configuration file name is tested twice: the tool really reads it (a real pytest or ruff run changes because
of it), and the gates reject a patch that adds it, at the root and deep in the tree."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.router import gate_reason
from bot.types import GateSettings, Verdict
from checks import paths
from checks.engine import run_gates
from checks.ruff import ruff_binary
from tests.repos import CALC, GitRepo

FAST = GateSettings(tests_timeout=60)

# A config that makes pytest deselect every test, in each file's own syntax.
PYTEST_CONFIGS = {
    "pytest.toml": '[pytest]\naddopts = ["-k", "nothing_matches"]\n',
    ".pytest.toml": '[pytest]\naddopts = ["-k", "nothing_matches"]\n',
    "pytest.ini": "[pytest]\naddopts = -k nothing_matches\n",
    ".pytest.ini": "[pytest]\naddopts = -k nothing_matches\n",
    "pyproject.toml": '[tool.pytest.ini_options]\naddopts = "-k nothing_matches"\n',
    "tox.ini": "[pytest]\naddopts = -k nothing_matches\n",
    "setup.cfg": "[tool:pytest]\naddopts = -k nothing_matches\n",
}
# A config that makes ruff flag a short line, in each file's own syntax.
RUFF_CONFIGS = {
    "ruff.toml": 'line-length = 10\n[lint]\nselect = ["E501"]\n',
    ".ruff.toml": 'line-length = 10\n[lint]\nselect = ["E501"]\n',
    "pyproject.toml": '[tool.ruff]\nline-length = 10\n[tool.ruff.lint]\nselect = ["E501"]\n',
}


def test_the_protected_names_are_the_tools_own_lists() -> None:
    assert set(PYTEST_CONFIGS) == set(paths.PYTEST_CONFIG)
    assert set(RUFF_CONFIGS) == set(paths.RUFF_CONFIG)
    for name in {*paths.PYTEST_CONFIG, *paths.RUFF_CONFIG, "conftest.py", "sitecustomize.py", "usercustomize.py"}:
        assert name in paths.DEFAULT_PROTECTED


@pytest.mark.parametrize("name", sorted(PYTEST_CONFIGS))
def test_pytest_reads_this_file_from_a_subfolder(tmp_path: Path, name: str) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / name).write_text(PYTEST_CONFIGS[name])
    (tmp_path / "pkg" / "test_a.py").write_text("def test_a():\n    pass\n")
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "pkg/test_a.py"]
    done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 5, done.stdout  # every test deselected: the file was read
    assert f"configfile: {name}\n" in done.stdout


@pytest.mark.parametrize("name", sorted(RUFF_CONFIGS))
def test_ruff_reads_this_file_from_a_subfolder(tmp_path: Path, name: str) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / name).write_text(RUFF_CONFIGS[name])
    (tmp_path / "pkg" / "a.py").write_text("value = 'longer than ten'\n")
    args = [ruff_binary(), "check", "--no-cache", "--output-format", "concise", "pkg/a.py"]
    done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert "E501" in done.stdout


def gate(repo: GitRepo, patch: str, tmp_path: Path) -> Verdict:
    verdict = run_gates(repo.path, "main", "HEAD", patch, FAST, cache_dir=tmp_path / "cache")
    repo.assert_no_worktree_left()
    return verdict


@pytest.mark.parametrize("where", ["", "calc/deep/"])
@pytest.mark.parametrize("name", sorted({*PYTEST_CONFIGS, *RUFF_CONFIGS}))
def test_a_patch_that_adds_a_tools_config_is_rejected(
    make_repo: Callable[..., GitRepo], tmp_path: Path, name: str, where: str
) -> None:
    repo = make_repo()
    text = PYTEST_CONFIGS.get(name) or RUFF_CONFIGS[name]
    verdict = gate(repo, repo.diff_for({f"{where}{name}": text, "calc/__init__.py": CALC + "\n\nONE = 1\n"}), tmp_path)
    assert (verdict.verdict, verdict.reason) == ("reject", "paths")
    assert gate_reason(verdict) == (
        f"gate paths failed: protected-path {where}{name} protected by {name!r}: a patch may not change the gates"
    )


def test_a_pytest_toml_that_loads_a_failure_flipping_plugin_is_rejected(
    make_repo: Callable[..., GitRepo], tmp_path: Path
) -> None:
    flip = (
        "import pytest\n\n\n@pytest.hookimpl(wrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
        "    report = yield\n    report.outcome = 'passed'\n    return report\n"
    )
    repo = make_repo()
    patch = repo.diff_for(
        {
            "pytest.toml": '[pytest]\naddopts = ["-p", "calc.flip"]\n',
            "calc/flip.py": flip,
            "calc/__init__.py": CALC.replace("a + b", "a * b"),  # breaks test_add
        }
    )
    verdict = gate(repo, patch, tmp_path)
    assert verdict.reason == "paths"
    assert [f.path for f in next(g for g in verdict.gates if g.name == "paths").findings] == ["pytest.toml"]


@pytest.mark.parametrize(
    "path",
    [
        "pytest.py",
        "_pytest/__init__.py",
        "py.py",
        "pluggy/__init__.py",
        "pytest_flip.py",
        "src/pytest_flip.py",
        "xml/__init__.py",  # the JUnit report is written with xml.etree
        "src/xml/etree/ElementTree.py",
        "json.py",
        "iniconfig.py",
        "sitecustomize.py",
        "calc/usercustomize.py",
        "calc/evil.pth",
        "calc/deep/conftest.py",
    ],
)
def test_modules_that_shadow_the_runner_or_run_at_start_up_are_rejected(
    make_repo: Callable[..., GitRepo], tmp_path: Path, path: str
) -> None:
    repo = make_repo()
    verdict = gate(repo, repo.diff_for({path: "X = 1\n"}), tmp_path)
    assert verdict.reason == "paths", verdict
    finding = next(g for g in verdict.gates if g.name == "paths").findings[0]
    assert (finding.path, finding.rule) == (path, "protected-path")


@pytest.mark.parametrize("path", ["calc/xml.py", "calc/json/__init__.py", "calc/pytest_helpers.py", "docs/conf.py"])
def test_modules_inside_a_package_shadow_nothing(make_repo: Callable[..., GitRepo], tmp_path: Path, path: str) -> None:
    repo = make_repo()
    verdict = gate(repo, repo.diff_for({path: "X = 1\n"}), tmp_path)
    paths_gate = next(g for g in verdict.gates if g.name == "paths")
    assert paths_gate.status == "pass", paths_gate


def test_the_runners_plugins_are_shadow_protected() -> None:
    names = paths.shadowed_modules()
    assert {"pytest", "_pytest", "pluggy", "xml", "json", "site", "pytest_timeout"} <= names
    assert "calc" not in names


def test_the_projects_own_package_is_not_shadowing_even_when_the_runner_imports_one_of_that_name(
    make_repo: Callable[..., GitRepo], tmp_path: Path
) -> None:
    # pluggy's and iniconfig's own repositories: their package is also pytest's dependency (found on real projects)
    files = {
        "src/iniconfig/__init__.py": "def parse(text):\n    return text.split()\n",
        "tests/test_parse.py": "from iniconfig import parse\n\n\ndef test_parse():\n    assert parse('a b')\n",
    }
    repo = make_repo(files)
    patch = repo.diff_for({"src/iniconfig/__init__.py": "def parse(text):\n    return list(text.split())\n"})
    verdict = gate(repo, patch, tmp_path)
    assert {g.name: g.status for g in verdict.gates}["paths"] == "pass"
    new_module = gate(repo, repo.diff_for({"src/pluggy.py": "X = 1\n"}), tmp_path)
    assert new_module.reason == "paths"  # a new module of that kind still is


@pytest.mark.parametrize(
    ("files", "target", "why"),
    [
        (
            {"ruff.toml": 'extend = "config/ruff-base.toml"\n', "config/ruff-base.toml": "line-length = 100\n"},
            "config/ruff-base.toml",
            "the ruff config ruff.toml extends it",
        ),
        (
            {"pyproject.toml": '[tool.pytest.ini_options]\naddopts = "-p calc.plugin"\n', "calc/plugin.py": "X = 1\n"},
            "calc/plugin.py",
            "pytest loads it as a plugin (-p calc.plugin in pyproject.toml)",
        ),
        (
            {"pytest.toml": '[pytest]\naddopts = ["-pcalc.plugin"]\n', "calc/plugin.py": "X = 1\n"},
            "calc/plugin.py",
            "pytest loads it as a plugin (-p calc.plugin in pytest.toml)",
        ),
        (
            {"tests/conftest.py": "pytest_plugins = ['calc.fixtures']\n", "calc/fixtures.py": "X = 1\n"},
            "calc/fixtures.py",
            "pytest loads it as a plugin (pytest_plugins in tests/conftest.py)",
        ),
    ],
    ids=["ruff-extend", "pytest-addopts-p", "pytest-toml-p", "conftest-pytest-plugins"],
)
def test_files_the_tools_config_points_at_are_protected(
    make_repo: Callable[..., GitRepo], tmp_path: Path, files: dict[str, str], target: str, why: str
) -> None:
    repo = make_repo({"calc/__init__.py": CALC, **files})
    verdict = gate(repo, repo.diff_for({target: "X = 2\n"}), tmp_path)
    assert verdict.reason == "paths"
    finding = next(g for g in verdict.gates if g.name == "paths").findings[0]
    assert (finding.path, finding.message) == (target, f"{why}: a patch may not change the gates")
