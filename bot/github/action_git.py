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


def token_env(token: str) -> dict[str, str]:
    """The environment that gives one git command ``token`` as GitHub's Basic ``x-access-token`` header
    (``http.extraheader`` through ``GIT_CONFIG_*``, so it is in no file and no command line); empty for no token."""
    if not token:
        return {}
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraheader",
        "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
    }


def _git(repo: Path, *args: str, token: str = "") -> proc.ProcResult:
    extra: dict[str, str] = {"GIT_TERMINAL_PROMPT": "0"} | token_env(token)
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
    missing = [sha for sha in (pull.base_sha, pull.head_sha) if not has_commit(repo, sha)]
    if len(missing) > 1:  # one fetch for both: a second would get the whole shared history again (no ref keeps it)
        _git(repo, "fetch", "--no-tags", "origin", *missing, token=token)
    for sha in missing:
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


def _inside(repo: Path, value: str) -> str | None:
    """``value`` as a path relative to the checkout when it lies inside it, judged without following any link of the
    PR's working tree (lexically, against the checkout's path and its real path; a prefix of ``value`` outside the
    checkout that is a link to it counts, as a runner's linked work directory does); None when it lies outside."""
    root = os.path.normpath(os.path.abspath(repo))
    real_root = os.path.realpath(repo)
    full = os.path.normpath(value if os.path.isabs(value) else os.path.join(root, value))
    parts = Path(full).parts
    for i in range(1, len(parts) + 1):  # the shortest prefix that is the checkout: no link inside it is followed
        prefix = os.path.join(*parts[:i])
        if prefix in (root, real_root) or (i < len(parts) and os.path.realpath(prefix) == real_root):
            rest = parts[i:]
            return Path(*rest).as_posix() if rest else None
    return None


def _leads_into(repo: Path, value: str) -> bool:
    """True when ``value``, named outside the checkout, reaches into it once the OS follows links (the PR's links)."""
    real_root = os.path.realpath(repo)
    real = os.path.realpath(value if os.path.isabs(value) else os.path.join(repo, value))
    return real == real_root or real.startswith(real_root + os.sep)


def admin_policy_at_base(value: str, repo: Path, base_sha: str) -> AdminPolicy:
    """The ``admin-policy`` input; never read from the PR's working tree.

    Several lines: inline YAML. One line naming a path inside the checkout (relative, or absolute under it), whatever
    the file is called: that file at the base revision, so a pull request cannot edit the policy that judges it; a
    ConfigError when the base has no such file and the line cannot be YAML (no ``:``). One line naming a path
    outside the checkout: that file (the runner's, not the PR's). Anything else: inline YAML. Empty: the default."""
    text = value.strip()
    if not text or "\n" in text:
        return admin_policy_from_input(value, repo)
    inside = _inside(repo, text)
    if inside is not None:
        content = worktree.read_file_at(repo, base_sha, inside)
        if content is not None:
            return load_admin_policy_text(content, f"{base_sha[:12]}:{inside} (input {ACTION_INPUT})")
        if ":" not in text:
            raise ConfigError(
                f"{inside!r} does not exist at the base revision {base_sha[:12]}; the admin policy is read from the "
                "base branch so that a pull request cannot change it: commit it there first",
                where=f"input {ACTION_INPUT}",
            )
        return load_admin_policy_text(text, f"input {ACTION_INPUT}")
    if _leads_into(repo, text):
        raise ConfigError(
            f"{text!r} leads into the checkout through a link in it, so the pull request could choose the file; "
            "name the file relative to the workspace (read at the base revision) or by a path outside it without links",
            where=f"input {ACTION_INPUT}",
        )
    return admin_policy_from_input(text, repo)


def repo_config_text_at_base(repo: Path, base_sha: str, path: str, explicit: bool) -> str | None:
    """The repository config at the base revision; None when the default path is absent (defaults apply)."""
    text = worktree.read_file_at(repo, base_sha, path)
    if text is None and explicit:
        raise ConfigError(
            f"{path!r} does not exist at the base revision {base_sha[:12]}", where="input config ($GUARDRAIL_CONFIG)"
        )
    return text


def commit_of_pull(repo: Path, named: str, pull: PullInfo) -> str | None:
    """The full sha of ``named`` (a sha or a prefix of one) when it is a commit of the pull request: the head or one
    of its ancestors that the base does not have. None otherwise (unknown, or not on the PR)."""
    found = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{named}^{{commit}}")
    full = found.stdout.strip()
    if not found.ok or not full:
        return None
    on_head = full == pull.head_sha or _git(repo, "merge-base", "--is-ancestor", full, pull.head_sha).ok
    in_base = _git(repo, "merge-base", "--is-ancestor", full, pull.base_sha).ok
    return full if on_head and not in_base else None


def pull_diff(repo: Path, pull: PullInfo) -> str:
    """The PR's diff as GitHub shows it (merge base of base and head, to head), for a head that is not the current
    one (GitHub only serves the current head's diff)."""
    return worktree.diff(repo, pull.base_sha, pull.head_sha)
