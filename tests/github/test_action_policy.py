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


@pytest.mark.parametrize("name", ["POLICY", "config/guardrail-policy", "Policy.YML", "./ops/admin.policy", "x.txt"])
def test_any_file_name_in_the_checkout_is_read_at_the_base(tmp_path: Path, name: str) -> None:
    """No ending or letter case lets the PR's working tree be read instead of the base."""
    rel = Path(name)
    (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / rel).write_text(POLICY)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "base")
    base = _git(tmp_path, "rev-parse", "HEAD")
    (tmp_path / rel).write_text(POLICY.replace("location: local", "location: cloud"))  # the PR's edit, uncommitted

    policy = admin_policy_at_base(name, tmp_path, base)

    assert policy.models["m"].location == "local"  # the base's, not the PR checkout's "cloud"


def test_a_name_only_the_pr_has_is_refused_whatever_it_is_called(repo: tuple[Path, str]) -> None:
    path, base = repo
    (path / "ADMIN").write_text(POLICY.replace("location: local", "location: cloud"))
    with pytest.raises(ConfigError, match=r"input admin-policy: 'ADMIN' does not exist at the base revision"):
        admin_policy_at_base("ADMIN", path, base)


def test_a_directory_the_pr_turned_into_a_link_is_not_followed(tmp_path: Path) -> None:
    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    (repo / "conf").mkdir(parents=True)
    (repo / "conf" / "policy").write_text(POLICY)
    elsewhere.mkdir()
    (elsewhere / "policy").write_text(POLICY.replace("location: local", "location: cloud"))
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    base = _git(repo, "rev-parse", "HEAD")
    (repo / "conf" / "policy").unlink()
    (repo / "conf").rmdir()
    (repo / "conf").symlink_to(elsewhere)  # the PR's checkout: conf/ now leads out of the repository

    assert admin_policy_at_base("conf/policy", repo, base).models["m"].location == "local"
    assert admin_policy_at_base(str(repo / "conf" / "policy"), repo, base).models["m"].location == "local"


def test_a_workspace_reached_through_a_link_is_still_read_at_the_base(repo: tuple[Path, str], tmp_path: Path) -> None:
    """A self-hosted runner whose work directory is a link: `${{ github.workspace }}/policy.yml` names the checkout
    through the link, and is still the base's file, never the PR's working tree."""
    path, base = repo
    link = tmp_path.parent / f"{tmp_path.name}-workspace-link"
    link.symlink_to(path)
    policy = admin_policy_at_base(str(link / "policy.yml"), path, base)
    assert policy.models["m"].location == "local"


def test_a_path_that_leaves_by_name_but_lands_in_the_checkout_through_a_link_is_refused(tmp_path: Path) -> None:
    """`sub/../../policy.yml` names a file outside the checkout, but the OS follows the PR's link `sub` first."""
    repo = tmp_path / "runner" / "repo"
    repo.mkdir(parents=True)
    (tmp_path / "runner" / "policy.yml").write_text(POLICY)  # what the admin meant: the runner's own file
    _git(repo, "init", "-q")
    (repo / "keep").write_text("x")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    base = _git(repo, "rev-parse", "HEAD")
    (repo / "deep" / "er").mkdir(parents=True)
    (repo / "deep" / "policy.yml").write_text(POLICY.replace("location: local", "location: cloud"))  # the PR's
    (repo / "sub").symlink_to(repo / "deep" / "er")

    with pytest.raises(ConfigError, match=r"input admin-policy: 'sub/\.\./\.\./policy\.yml' leads into the checkout"):
        admin_policy_at_base("sub/../../policy.yml", repo, base)
    assert admin_policy_at_base("../policy.yml", repo, base).models["m"].location == "local"


@pytest.mark.parametrize("value", ["~/policy.yml", "$HOME/policy.yml", "${GITHUB_WORKSPACE}/policy.yml"])
def test_no_expansion_of_home_or_variables(repo: tuple[Path, str], value: str) -> None:
    """The input is a path as written: `~` and `$VAR` name files in the checkout at the base, which do not exist."""
    path, base = repo
    with pytest.raises(ConfigError, match=r"does not exist at the base revision"):
        admin_policy_at_base(value, path, base)


def test_a_link_inside_the_checkout_never_renames_the_file(repo: tuple[Path, str]) -> None:
    """`here/policy.yml`, where the PR made `here` a link to the checkout itself, is `here/policy.yml` at the base
    (absent), never the base's `policy.yml` by another name."""
    path, base = repo
    (path / "here").symlink_to(path)
    with pytest.raises(ConfigError, match=r"'here/policy.yml' does not exist at the base revision"):
        admin_policy_at_base(str(path / "here" / "policy.yml"), path, base)
