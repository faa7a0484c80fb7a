"""Git access for the gates; everything else gets paths and strings. Every git command goes through
:mod:`checks.gitenv` (no hooks, no user or system config, a clean environment).

A gate never touches the user's checkout: it works in a throwaway worktree (``git worktree add --detach``) in a
temporary directory, removed on every way out (success, error, timeout, KeyboardInterrupt), then
``git worktree prune`` forgets it. PR code sees the worktree only through the jail, with its ``.git`` file masked,
so it has no path back to the repository's git directory.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bot.errors import ConfigError, GateError
from bot.parse.diff import GIT_DIFF_CONFIG, GIT_DIFF_OPTIONS
from checks import gitenv, proc

MAX_SLOTS = 32  # concurrent worktrees of one repository at stable paths; more get random paths
GIT_TIMEOUT = 120.0  # seconds for one git command of ours (a worktree checkout of a big repository)
_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


class SlotError(GateError):
    """A worktree slot is in a state Guardrail did not leave it in (a link, a file, wrong owner): exit 3."""


def _check_repo(repo: Path) -> None:
    done = gitenv.run(repo, ["rev-parse", "--git-dir"], timeout=GIT_TIMEOUT) if repo.is_dir() else None
    if done is None or not done.ok:
        raise ConfigError("not a git repository; pass the path of a clone", where=str(repo))


def _git(repo: Path, *args: str) -> str:
    done = gitenv.run(repo, args, timeout=GIT_TIMEOUT)
    if not done.ok:
        detail = (done.stderr.strip() or done.describe()).strip()
        raise GateError(f"`git {' '.join(args)}` failed in {repo}: {detail}")
    if len(done.stdout) >= proc.MAX_OUTPUT_CHARS:
        raise GateError(f"`git {' '.join(args)}` in {repo} printed more than {proc.MAX_OUTPUT_CHARS} characters")
    return done.stdout


def _check_rev(rev: str) -> None:
    if not rev or rev.startswith("-") or "\0" in rev:
        raise ConfigError(f"{rev!r} is not a revision; give a branch, tag or commit sha")


def resolve(repo: Path, rev: str) -> str:
    """The full commit sha ``rev`` names in ``repo``; ConfigError (exit 2) when it names no commit there."""
    _check_rev(rev)
    _check_repo(repo)
    done = gitenv.run(repo, ["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], timeout=GIT_TIMEOUT)
    if not done.ok:
        raise ConfigError(f"unknown revision {rev!r}: {_why_unknown(repo)}", where=str(repo))
    return done.stdout.strip()


def _why_unknown(repo: Path) -> str:
    """Why a revision is missing, in the words that lead to the fix: no commits yet, a shallow clone, or a name."""
    if not gitenv.run(repo, ["rev-parse", "--verify", "--quiet", "HEAD"], timeout=GIT_TIMEOUT).stdout.strip():
        return "the repository has no commits yet; commit first, or pass the path of a clone that has them"
    shallow = gitenv.run(repo, ["rev-parse", "--is-shallow-repository"], timeout=GIT_TIMEOUT).stdout.strip()
    if shallow == "true":
        return "not in this shallow clone; fetch the history (`git fetch --unshallow`, or checkout's fetch-depth: 0)"
    return "no such branch, tag or commit here; fetch it first or check the name"


def read_file_at(repo: Path, rev: str, path: str, *, errors: str = "replace") -> str | None:
    """The text of ``path`` at ``rev``, or None when no such file exists there. Undecodable bytes are replaced, or
    with ``errors="surrogateescape"`` kept as surrogate escapes (lossless: encode the same way for the bytes)."""
    sha = resolve(repo, rev)
    listing = _git(repo, "ls-tree", "-z", sha, "--", path.strip("/"))
    meta, _, _ = listing.partition("\t")
    fields = meta.split()
    if len(fields) != 3 or fields[1] != "blob":
        return None
    return gitenv.output(repo, ["cat-file", "blob", fields[2]], timeout=GIT_TIMEOUT).decode("utf-8", errors=errors)


def diff(repo: Path, base: str, head: str) -> str:
    """The pull request's unified diff as GitHub shows it: from the merge base of ``base`` and ``head`` to ``head``."""
    base_sha, head_sha = resolve(repo, base), resolve(repo, head)
    return _git_diff(repo, "-M", f"{base_sha}...{head_sha}").decode("utf-8", errors="surrogateescape")


def _git_diff(repo: Path, *args: str) -> bytes:
    """``git diff`` under a fixed configuration (``bot.parse.diff.GIT_DIFF_OPTIONS``), as the bytes git wrote."""
    return gitenv.output(repo, [*GIT_DIFF_CONFIG, "diff", *GIT_DIFF_OPTIONS, *args], timeout=GIT_TIMEOUT)


def effective_change(root: Path, new_paths: Sequence[str] = ()) -> bytes:
    """What a patch really changed in the worktree ``root``: ``git diff HEAD`` of the patched tree, as bytes.

    ``new_paths`` (files the patch created) are first marked intent-to-add, so they show as new files.
    """
    if new_paths:
        _git(root, "add", "--intent-to-add", "--force", "--", *new_paths)
    return _git_diff(root, "--no-renames", "HEAD")


def list_files(repo: Path, rev: str) -> list[str]:
    """Every file path tracked at ``rev``, sorted as git lists them."""
    sha = resolve(repo, rev)
    out = _git(repo, "ls-tree", "-r", "-z", "--name-only", sha)
    return [name for name in out.split("\0") if name]


def _remove(repo: Path, parent: Path) -> None:
    # Deleting the directory and pruning is one git call instead of two (`worktree remove` then `prune`), and
    # also clears a half-made worktree.
    proc.discard_tree(parent)  # moved aside at once (git then prunes it); its files are deleted in the background
    _git(repo, "worktree", "prune")


def blob_ids(repo: Path, rev: str) -> dict[str, str]:
    """Path -> blob sha of every regular file tracked at ``rev`` (no symlinks, no submodules)."""
    out = _git(repo, "ls-tree", "-r", "-z", rev)
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
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        why = "a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
        problem = f"cannot lock the worktree slot {path} ({why})"
        raise SlotError(f"{problem}: Guardrail did not leave it so; remove it") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # The holder before us deletes the file before unlocking; a lock on a deleted file is no lock.
        if os.fstat(fd).st_ino != os.stat(path).st_ino:
            raise BlockingIOError
    except (BlockingIOError, FileNotFoundError):
        os.close(fd)
        return None
    return fd


def _clear(repo: Path, slot: Path) -> None:
    """Remove what a killed run left in ``slot``, never following a link; anything else there is a SlotError."""
    try:
        info = slot.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid():  # a killed run's worktree: its registration goes too
        proc.remove_tree(slot)
        _git(repo, "worktree", "prune")
        return
    kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a folder of ours"
    raise SlotError(f"the worktree slot {slot} is {kind}: Guardrail did not leave it so; remove it and try again")


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
                _clear(repo, slot)
                try:
                    slot.mkdir(mode=0o700)
                except OSError as exc:
                    problem = f"cannot make the worktree slot {slot}: {exc.strerror}"
                    raise SlotError(f"{problem}; remove what is there") from exc
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
            _git(repo, "worktree", "add", "--detach", "--quiet", str(path), f"{sha}^{{commit}}")
            yield path
        finally:
            _remove(repo, parent)
