"""Git access for the gates. The only module that imports GitPython; everything else gets paths and strings.

A gate never touches the user's checkout: it works in a throwaway worktree (``git worktree add --detach``) in a
temporary directory, removed on every way out (success, error, timeout, KeyboardInterrupt), then
``git worktree prune`` forgets it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import git
from git.exc import BadName, GitCommandError, InvalidGitRepositoryError, NoSuchPathError

from bot.errors import ConfigError, GateError
from bot.parse.diff import GIT_DIFF_CONFIG, GIT_DIFF_OPTIONS
from checks import proc

MAX_SLOTS = 32  # concurrent worktrees of one repository at stable paths; more get random paths
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
            raise ConfigError(f"unknown revision {rev!r}: {_why_unknown(handle)}", where=str(repo)) from exc
    return sha.strip()


def _why_unknown(handle: git.Repo) -> str:
    """Why a revision is missing, in the words that lead to the fix: no commits yet, a shallow clone, or a name."""
    if not handle.git.rev_parse("--verify", "--quiet", "HEAD", with_exceptions=False):
        return "the repository has no commits yet; commit first, or pass the path of a clone that has them"
    if handle.git.rev_parse("--is-shallow-repository", with_exceptions=False).strip() == "true":
        return "not in this shallow clone; fetch the history (`git fetch --unshallow`, or checkout's fetch-depth: 0)"
    return "no such branch, tag or commit here; fetch it first or check the name"


def read_file_at(repo: Path, rev: str, path: str, *, errors: str = "replace") -> str | None:
    """The text of ``path`` at ``rev``, or None when no such file exists there. Undecodable bytes are replaced, or
    with ``errors="surrogateescape"`` kept as surrogate escapes (lossless: encode the same way for the bytes)."""
    sha = resolve(repo, rev)
    with _open(repo) as handle:
        try:
            item = handle.commit(sha).tree / path.strip("/")
        except (KeyError, BadName, ValueError):
            return None
        if item.type != "blob":
            return None
        data: bytes = item.data_stream.read()
    return data.decode("utf-8", errors=errors)


def diff(repo: Path, base: str, head: str) -> str:
    """The pull request's unified diff as GitHub shows it: from the merge base of ``base`` and ``head`` to ``head``."""
    base_sha, head_sha = resolve(repo, base), resolve(repo, head)
    with _open(repo) as handle:
        return _git_diff(handle, "-M", f"{base_sha}...{head_sha}").decode("utf-8", errors="surrogateescape")


def _git_diff(handle: git.Repo, *args: str) -> bytes:
    """``git diff`` under a fixed configuration (``bot.parse.diff.GIT_DIFF_OPTIONS``), as the bytes git wrote."""
    argv = ["git", *GIT_DIFF_CONFIG, "diff", *GIT_DIFF_OPTIONS, *args]
    try:
        out: bytes = handle.git.execute(
            argv, kill_after_timeout=GIT_TIMEOUT, stdout_as_string=False, strip_newline_in_stdout=False
        )
    except GitCommandError as exc:
        raise GateError(f"`{' '.join(argv)}` failed in {handle.working_dir}: {str(exc.stderr or exc).strip()}") from exc
    return out


def effective_change(root: Path, new_paths: Sequence[str] = ()) -> bytes:
    """What a patch really changed in the worktree ``root``: ``git diff HEAD`` of the patched tree, as bytes.

    ``new_paths`` (files the patch created) are first marked intent-to-add, so they show as new files.
    """
    with _open(root) as handle:
        if new_paths:
            _git(handle, "add", "--intent-to-add", "--force", "--", *new_paths)
        return _git_diff(handle, "--no-renames", "HEAD")


def list_files(repo: Path, rev: str) -> list[str]:
    """Every file path tracked at ``rev``, sorted as git lists them."""
    sha = resolve(repo, rev)
    with _open(repo) as handle:
        out = _git(handle, "ls-tree", "-r", "-z", "--name-only", sha, strip_newline_in_stdout=False)
    return [name for name in out.split("\0") if name]


def _remove(repo: Path, parent: Path) -> None:
    # Deleting the directory and pruning is one git call instead of two (`worktree remove` then `prune`), and
    # also clears a half-made worktree.
    proc.discard_tree(parent)  # moved aside at once (git then prunes it); its files are deleted in the background
    with _open(repo) as handle:
        _git(handle, "worktree", "prune")


def blob_ids(repo: Path, rev: str) -> dict[str, str]:
    """Path -> blob sha of every regular file tracked at ``rev`` (no symlinks, no submodules)."""
    with _open(repo) as handle:
        out = _git(handle, "ls-tree", "-r", "-z", rev, strip_newline_in_stdout=False)
    blobs = {}
    for entry in out.split("\0"):
        meta, _, path = entry.partition("\t")
        fields = meta.split()
        if len(fields) == 3 and fields[0] in ("100644", "100755"):
            blobs[path] = fields[2]
    return blobs


def _slots_root() -> Path | None:
    # A private folder of ours in the temporary directory; None if someone else owns it (then: random paths).
    root = Path(tempfile.gettempdir()) / f"guardrail-worktrees-{os.getuid()}"
    try:
        root.mkdir(mode=0o700, exist_ok=True)
        info = root.lstat()
    except OSError:
        return None
    private = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077
    return root if private else None


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # The holder before us deletes the file before unlocking; a lock on a deleted file is no lock.
        if os.fstat(fd).st_ino != os.stat(path).st_ino:
            raise BlockingIOError
    except (BlockingIOError, FileNotFoundError):
        os.close(fd)
        return None
    return fd


@contextmanager
def _slot(repo: Path) -> Iterator[Path]:
    """An empty directory for one worktree, at a path that repeats from run to run for this repository (slot 0
    unless another run holds it), so bytecode compiled in one run can be reused by the next. Locked while in use."""
    root = _slots_root()
    if root is not None:
        key = hashlib.sha256(str(repo.resolve()).encode()).hexdigest()[:12]
        for number in range(MAX_SLOTS):
            fd = _try_lock(root / f"{key}-{number}.lock")
            if fd is None:
                continue
            try:
                slot = root / f"{key}-{number}"
                if slot.exists():  # left behind by a run that was killed: its registration goes too
                    proc.remove_tree(slot)
                    with _open(repo) as handle:
                        _git(handle, "worktree", "prune")
                slot.mkdir()
                yield slot
            finally:
                (root / f"{key}-{number}.lock").unlink(missing_ok=True)  # while still holding it: see _try_lock
                os.close(fd)
            return
    yield Path(tempfile.mkdtemp(prefix="guardrail-wt-"))


@contextmanager
def worktree(repo: Path, rev: str) -> Iterator[Path]:
    """A detached worktree of ``rev`` in a temporary directory; always removed (and pruned) afterwards.

    The directory's path is the same from one run to the next (per repository, while no other run holds it): a
    fresh checkout every time, but at a path where the bytecode cache of the previous run still applies.
    """
    sha = rev if _FULL_SHA.fullmatch(rev) else resolve(repo, rev)  # a full sha is checked by `worktree add` itself
    with _slot(repo) as parent:
        path = parent / (repo.resolve().name or "worktree")
        try:
            with _open(repo) as handle:
                _git(handle, "worktree", "add", "--detach", "--quiet", str(path), f"{sha}^{{commit}}")
            yield path
        finally:
            _remove(repo, parent)
