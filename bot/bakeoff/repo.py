"""A task as a real git repository: branch ``base`` with the base files, branch ``pr`` with the PR's change.

Commits are made with a fixed author and date, so the same task always gives the same shas (and the gates' baseline
cache, keyed by the head sha, is reused from one bakeoff run to the next).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bot.bakeoff.tasks import Task
from bot.errors import ConfigError
from bot.types import PullRequest
from checks import proc

BASE, HEAD = "base", "pr"
_GIT = ["git", "-c", "user.name=Guardrail Bakeoff", "-c", "user.email=bakeoff@guardrail.invalid",
        "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=base", "-c", "core.hooksPath=/dev/null"]  # fmt: skip
_DATE = "2024-01-01T00:00:00+00:00"
_ENV = {"GIT_AUTHOR_DATE": _DATE, "GIT_COMMITTER_DATE": _DATE, "GIT_CONFIG_NOSYSTEM": "1"}


def _git(repo: Path, *args: str) -> str:
    result = proc.run([*_GIT, *args], cwd=repo, timeout=60, env_extra=_ENV, isolate_network=False)
    if not result.ok:
        raise ConfigError(f"git {' '.join(args)} failed in {repo}: {result.stderr.strip() or result.describe()}")
    return result.stdout.strip()


def _write(root: Path, files: Mapping[str, str | None]) -> None:
    for rel, text in files.items():
        target = root / rel
        if text is None:
            target.unlink(missing_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def materialize(task: Task, root: Path) -> PullRequest:
    """The task's repository in ``root`` (made once, reused when it exists) as a PullRequest base..pr."""
    if not (root / ".git").is_dir():
        root.mkdir(parents=True, exist_ok=True)
        _git(root, "init", "-q")
        _write(root, task.base)
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "--allow-empty", "-m", "base")
        _git(root, "checkout", "-q", "-b", HEAD)
        _write(root, task.pr)
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", task.title or "pull request")
    return PullRequest(
        repo=root,
        base=BASE,
        head=HEAD,
        repo_name=f"bakeoff/{task.id}",
        title=task.title,
        body=task.body,
        base_sha=_git(root, "rev-parse", BASE),
        head_sha=_git(root, "rev-parse", HEAD),
    )
