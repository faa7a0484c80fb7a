"""Git access for the gates. The only module that imports GitPython; everything else gets paths and strings.

A gate never touches the user's checkout: it works in a throwaway worktree (``git worktree add --detach``) in a
temporary directory, removed on every way out (success, error, timeout, KeyboardInterrupt), then
``git worktree prune`` forgets it.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import git
from git.exc import BadName, GitCommandError, InvalidGitRepositoryError, NoSuchPathError

from bot.errors import ConfigError, GateError

GIT_TIMEOUT = 120.0  # seconds for one git command of ours (a worktree checkout of a big repository)
_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@contextmanager
def _open(repo: Path) -> Iterator[git.Repo]:
    try:
        handle = git.Repo(repo)
    except (InvalidGitRepositoryError, NoSuchPathError) as exc:
        raise ConfigError("not a git repository; pass the path of a clone", where=str(repo)) from exc
    try:
        yield handle
    finally:
        handle.close()


def _git(handle: git.Repo, *args: str, **kwargs: Any) -> str:
    try:
        out: str = handle.git.execute(["git", *args], kill_after_timeout=GIT_TIMEOUT, **kwargs)
    except GitCommandError as exc:
        detail = str(exc.stderr or exc).strip()
        raise GateError(f"`git {' '.join(args)}` failed in {handle.working_dir}: {detail}") from exc
    return out


def _check_rev(rev: str) -> None:
    if not rev or rev.startswith("-") or "\0" in rev:
        raise ConfigError(f"{rev!r} is not a revision; give a branch, tag or commit sha")


def resolve(repo: Path, rev: str) -> str:
    """The full commit sha ``rev`` names in ``repo``; ConfigError (exit 2) when it names no commit there."""
    _check_rev(rev)
    with _open(repo) as handle:
        try:
            sha: str = handle.git.rev_parse("--verify", "--quiet", f"{rev}^{{commit}}")
        except GitCommandError as exc:
            raise ConfigError(
                f"unknown revision {rev!r}: no such branch, tag or commit here; fetch it first or check the name",
                where=str(repo),
            ) from exc
    return sha.strip()


def read_file_at(repo: Path, rev: str, path: str) -> str | None:
    """The text of ``path`` at ``rev`` (undecodable bytes replaced), or None when no such file exists there."""
    sha = resolve(repo, rev)
    with _open(repo) as handle:
        try:
            item = handle.commit(sha).tree / path.strip("/")
        except (KeyError, BadName, ValueError):
            return None
        if item.type != "blob":
            return None
        data: bytes = item.data_stream.read()
    return data.decode("utf-8", errors="replace")


def diff(repo: Path, base: str, head: str) -> str:
    """The pull request's unified diff as GitHub shows it: from the merge base of ``base`` and ``head`` to ``head``."""
    base_sha, head_sha = resolve(repo, base), resolve(repo, head)
    with _open(repo) as handle:
        return _git(
            handle,
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            f"{base_sha}...{head_sha}",
            strip_newline_in_stdout=False,
        )


def list_files(repo: Path, rev: str) -> list[str]:
    """Every file path tracked at ``rev``, sorted as git lists them."""
    sha = resolve(repo, rev)
    with _open(repo) as handle:
        out = _git(handle, "ls-tree", "-r", "-z", "--name-only", sha, strip_newline_in_stdout=False)
    return [name for name in out.split("\0") if name]


def _force_remove(func: Callable[..., Any], path: str, exc_info: Any) -> None:
    # PR code may leave read-only files or directories behind; make them writable and retry once.
    try:
        os.chmod(os.path.dirname(path) or ".", stat.S_IRWXU)
        os.chmod(path, stat.S_IRWXU)
        func(path)
    except FileNotFoundError:
        pass  # already gone


def _remove(repo: Path, parent: Path) -> None:
    # Deleting the directory and pruning is one git call instead of two (`worktree remove` then `prune`), and
    # also clears a half-made worktree.
    if sys.version_info >= (3, 12):
        shutil.rmtree(parent, onexc=_force_remove)
    else:
        shutil.rmtree(parent, onerror=_force_remove)
    with _open(repo) as handle:
        _git(handle, "worktree", "prune")


@contextmanager
def worktree(repo: Path, rev: str) -> Iterator[Path]:
    """A detached worktree of ``rev`` in a temporary directory; always removed (and pruned) afterwards."""
    sha = rev if _FULL_SHA.fullmatch(rev) else resolve(repo, rev)  # a full sha is checked by `worktree add` itself
    parent = Path(tempfile.mkdtemp(prefix="guardrail-wt-"))
    path = parent / (repo.resolve().name or "worktree")
    try:
        with _open(repo) as handle:
            _git(handle, "worktree", "add", "--detach", "--quiet", str(path), f"{sha}^{{commit}}")
        yield path
    finally:
        _remove(repo, parent)
