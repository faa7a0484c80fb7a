"""The Action reads the admin policy and the repository config at the BASE revision: a PR cannot change them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.github.action_git import admin_policy_at_base, repo_config_text_at_base

POLICY = "models:\n  m: {backend: ollama, url: 'http://127.0.0.1:1', model: x, location: local}\n"
POLICY += "purposes:\n  review: {allow: [m]}\n"
ID = ["-c", "user.name=T", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *ID, *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str]:
    _git(tmp_path, "init", "-q")
    (tmp_path / "policy.yml").write_text(POLICY)
    _git(tmp_path, "add", "policy.yml")
    _git(tmp_path, "commit", "-qm", "base")
    base = _git(tmp_path, "rev-parse", "HEAD")
    (tmp_path / "policy.yml").write_text(POLICY.replace("location: local", "location: cloud"))  # the PR's edit
    (tmp_path / "new.yml").write_text(POLICY)
    return tmp_path, base


@pytest.mark.parametrize("as_absolute", [False, True])
def test_a_policy_path_in_the_checkout_is_read_at_the_base(repo: tuple[Path, str], as_absolute: bool) -> None:
    path, base = repo
    value = str(path / "policy.yml") if as_absolute else "policy.yml"
    policy = admin_policy_at_base(value, path, base)
    assert policy.models["m"].location == "local"  # the base's, not the working tree's "cloud"


def test_a_policy_only_in_the_pr_is_refused_naming_the_input(repo: tuple[Path, str]) -> None:
    path, base = repo
    with pytest.raises(ConfigError, match=r"input admin-policy.*does not exist at the base revision"):
        admin_policy_at_base("new.yml", path, base)


def test_inline_policy_and_explicit_config(repo: tuple[Path, str]) -> None:
    path, base = repo
    assert admin_policy_at_base(POLICY, path, base).models["m"].location == "local"
    assert repo_config_text_at_base(path, base, ".github/guardrail.yml", explicit=False) is None
    with pytest.raises(ConfigError, match=r"input config.*does not exist at the base revision"):
        repo_config_text_at_base(path, base, "ci/guardrail.yml", explicit=True)
