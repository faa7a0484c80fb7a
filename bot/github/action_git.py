"""The Action's git work in the checkout (``GITHUB_WORKSPACE``): make sure the PR's base and head commits are there,
and read the policy files at the BASE revision, never from the PR's working tree.

Only our own git commands run here (through ``checks.proc``, no PR code). A missing commit is fetched with
``git fetch origin <sha>``, then ``refs/pull/<n>/head`` (a fork's head is only reachable that way); the token goes
to git in the environment (``GIT_CONFIG_*``), so it is neither on the command line nor written to ``.git/config``.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from bot.errors import ConfigError
from bot.policy import AdminPolicy, admin_policy_from_input, load_admin_policy_text
from bot.policy_model import ACTION_INPUT
from bot.types import PullInfo
from checks import proc, worktree

GIT_TIMEOUT = 300.0


def _git(repo: Path, *args: str, token: str = "") -> proc.ProcResult:
    extra: dict[str, str] = {"GIT_TERMINAL_PROMPT": "0"}
    if token:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        extra |= {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraheader",
            "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
        }
    return proc.run(["git", *args], cwd=repo, timeout=GIT_TIMEOUT, env_extra=extra, isolate_network=False)


def init_checkout(repo: Path, url: str) -> None:
    """An empty repository at ``repo`` whose ``origin`` is ``url`` (the App's worker then ``ensure_commits``)."""
    repo.mkdir(parents=True, exist_ok=True)
    for args in (("init", "-q"), ("remote", "add", "origin", url)):
        result = _git(repo, *args)
        if not result.ok:
            raise ConfigError(f"git {' '.join(args)} failed: {result.stderr.strip()[-300:]}", where=str(repo))


def has_commit(repo: Path, sha: str) -> bool:
    return _git(repo, "cat-file", "-e", f"{sha}^{{commit}}").ok


def ensure_commits(repo: Path, pull: PullInfo, token: str = "") -> None:
    """Fetch the base and head commits if the checkout lacks them; a ConfigError saying how to fix it otherwise."""
    if not (repo / ".git").exists() and not _git(repo, "rev-parse", "--git-dir").ok:
        raise ConfigError(
            "not a git checkout; run actions/checkout (with fetch-depth: 0) before Guardrail",
            where=f"GITHUB_WORKSPACE={repo}",
        )
    for sha in (pull.base_sha, pull.head_sha):
        if has_commit(repo, sha):
            continue
        attempts = [
            ("fetch", "--no-tags", "origin", sha),
            ("fetch", "--no-tags", "origin", f"refs/pull/{pull.number}/head"),
        ]
        errors = []
        for args in attempts:
            result = _git(repo, *args, token=token)
            if result.ok and has_commit(repo, sha):
                break
            errors.append(f"git {' '.join(args)}: {result.describe()}: {result.stderr.strip()[-300:]}")
        else:
            raise ConfigError(
                f"commit {sha} of PR #{pull.number} is not in the checkout and could not be fetched "
                f"({'; '.join(errors)}); use actions/checkout with fetch-depth: 0",
                where=f"GITHUB_WORKSPACE={repo}",
            )


def admin_policy_at_base(value: str, repo: Path, base_sha: str) -> AdminPolicy:
    """The ``admin-policy`` input. A path inside the repository (relative, or absolute under the checkout) is read
    at the base revision, so a PR cannot edit the policy that judges it; an absolute path outside the checkout,
    inline YAML, or empty (the default) is taken as given."""
    text = value.strip()
    if text and "\n" not in text and os.path.isabs(text) and Path(text).resolve().is_relative_to(repo.resolve()):
        text = str(Path(text).resolve().relative_to(repo.resolve()))  # inside the checkout: still read at base
    if text and "\n" not in text and not os.path.isabs(text) and text.endswith((".yml", ".yaml", ".json")):
        content = worktree.read_file_at(repo, base_sha, text)
        if content is None:
            raise ConfigError(
                f"{text!r} does not exist at the base revision {base_sha[:12]}; the admin policy is read from the "
                "base branch so that a pull request cannot change it: commit it there first",
                where=f"input {ACTION_INPUT}",
            )
        return load_admin_policy_text(content, f"{base_sha[:12]}:{text} (input {ACTION_INPUT})")
    return admin_policy_from_input(value, repo)


def repo_config_text_at_base(repo: Path, base_sha: str, path: str, explicit: bool) -> str | None:
    """The repository config at the base revision; None when the default path is absent (defaults apply)."""
    text = worktree.read_file_at(repo, base_sha, path)
    if text is None and explicit:
        raise ConfigError(
            f"{path!r} does not exist at the base revision {base_sha[:12]}", where="input config ($GUARDRAIL_CONFIG)"
        )
    return text
