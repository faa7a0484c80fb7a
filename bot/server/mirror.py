"""The worker's checkout of a pull request, made from a git mirror of its repository shared by every job on the
machine, instead of a full ``git fetch`` per job.

    <root>/<owner>-<name>-<url hash>.git    a bare repository holding every commit a job here needed, each kept by
                                            ``refs/guardrail/pull/<n>/head`` and ``.../base``
    <root>/<owner>-<name>-<url hash>.lock   the mirror's lock (``filelock``): one process writes it at a time

``<root>`` is ``$GUARDRAIL_CACHE_DIR/mirrors`` when that is set, else the user's cache directory (``platformdirs``:
``~/.cache/guardrail/mirrors`` on Linux): a mirror is a cache, rebuilt from GitHub whenever it is missing or damaged.

A job, holding the lock: fetch into the mirror only the base and head commits it lacks (by sha, else
``refs/pull/<n>/head`` and the base branch; git sends GitHub the mirror's refs as "have"s, so only new objects come),
check both commits are there, then make the job's checkout: an empty ``git init`` whose ``objects/info/alternates``
names the mirror's objects (``git clone --shared``'s mechanism), so nothing is copied. The lock is released before
the job's pipeline runs; later fetches only add objects, so a checkout never sees a half-fetched mirror.

What keeps the mirror out of PR code's reach: PR code runs only in the jail (``checks.jail``), which sees the gate's
worktree and nothing else (its ``.git`` masked; neither the checkout's git directory nor the mirror is mounted).
Guardrail's own git commands in the checkout write new objects into the checkout's ``.git/objects``: git never
writes into an alternate. Installation tokens go to git per command in the environment (an ``http.extraheader``
through ``GIT_CONFIG_*``), never into the mirror's config, a remote (there is none: the URL is given per fetch) or
``FETCH_HEAD`` (not written). Every git command runs with :mod:`checks.gitenv`'s environment (no hooks, no user or
system config).

When the mirror cannot serve the job (damaged, or its fetch failed), it is rebuilt beside the old one and swapped in
only once the rebuild has the commits; if that fails too (GitHub unreachable, no disk), the job fetches directly into
its own checkout as before, and the log says which happened.

Disk: a mirror holds about what a clone with every pull request's head would. ``git gc --auto`` runs after each fetch,
under the lock (not detached), packing the many small packs incremental fetches leave; objects no ref keeps (a
force-pushed head) are pruned after git's ``gc.pruneExpire`` (two weeks), far longer than any job borrows them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from filelock import FileLock, Timeout
from platformdirs import user_cache_dir

from bot.errors import GuardrailError
from bot.github import action_git
from bot.types import PullInfo
from checks import gitenv, proc

log = logging.getLogger("guardrail.server.mirror")

CACHE_ENV = "GUARDRAIL_CACHE_DIR"  # as checks.baseline.CACHE_ENV: the gates' caches honour the same variable
GIT_TIMEOUT = 600.0  # seconds for one fetch into a mirror (the first one of a large repository)
LOCK_TIMEOUT = 1200.0  # seconds a job waits for another process's fetch of the same repository
NETWORK_ENV: tuple[str, ...] = (  # passed to a fetch: a proxy and the CA certificates, nothing else of ours
    "http_proxy", "https_proxy", "no_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
    "GIT_SSL_CAINFO", "GIT_SSL_CAPATH", "SSL_CERT_FILE", "SSL_CERT_DIR",
)  # fmt: skip
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class MirrorError(GuardrailError):
    """A mirror that cannot serve a job (damaged, or a fetch into it failed); the job rebuilds it or fetches alone."""


def default_root(env: Mapping[str, str] | None = None) -> Path:
    """Where mirrors live: ``$GUARDRAIL_CACHE_DIR/mirrors``, else the user's cache directory's ``mirrors``."""
    source = os.environ if env is None else env
    return Path(source.get(CACHE_ENV) or user_cache_dir("guardrail")) / "mirrors"


def mirror_path(root: Path, url: str) -> Path:
    """The mirror of ``url`` under ``root``: readable (the URL's last two parts) and unique (a hash of the URL)."""
    tail = "-".join(url.rstrip("/").removesuffix(".git").split("/")[-2:])
    name = _UNSAFE.sub("-", tail).strip("-.")[:80] or "repo"
    return root / f"{name}-{hashlib.sha256(url.encode()).hexdigest()[:12]}.git"


def prepare_checkout(checkout: Path, url: str, pull: PullInfo, token: str, root: Path | None) -> str:
    """Make ``checkout`` (a new directory) a repository holding ``pull``'s base and head commits.

    With ``root`` (the mirrors' folder): from the shared mirror of ``url``; returns ``"mirror"``, or ``"rebuilt"``
    when the mirror had to be rebuilt first. Without, or when no mirror can serve: a direct fetch into the checkout
    (``bot.github.action_git``), returns ``"direct"``. Raises ConfigError (from the direct fetch) when the commits
    cannot be had at all."""
    if root is not None:
        try:
            return _from_mirror(checkout, url, pull, token, root)
        except (GuardrailError, OSError, Timeout) as exc:
            log.warning("git mirror unusable (%s); fetching directly into the job's checkout", exc)
            _remove(checkout)
    action_git.init_checkout(checkout, url)
    action_git.ensure_commits(checkout, pull, token)
    return "direct"


def _from_mirror(checkout: Path, url: str, pull: PullInfo, token: str, root: Path) -> str:
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    mirror = mirror_path(root, url)
    with FileLock(str(mirror.with_suffix(".lock")), timeout=LOCK_TIMEOUT):
        how = "mirror"
        try:
            _update(mirror, url, pull, token)
        except GuardrailError as exc:  # MirrorError, or a GateError when git cannot even start there
            log.warning("git mirror %s unusable (%s); rebuilding it", mirror.name, exc)
            _rebuild(mirror, url, pull, token)
            how = "rebuilt"
        _borrow(checkout, mirror, url, pull)
    return how


def _update(mirror: Path, url: str, pull: PullInfo, token: str) -> None:
    """Bring ``mirror`` to hold ``pull``'s two commits, keep them by refs, and let git pack it; MirrorError if not."""
    if not (mirror.exists() or mirror.is_symlink()):
        _init_bare(mirror)
    elif mirror.is_symlink() or not mirror.is_dir():
        raise MirrorError(f"{mirror} is not a folder")
    _clear_stale_locks(mirror)
    missing = _missing(mirror, list(dict.fromkeys((pull.base_sha, pull.head_sha))), bare=True)
    if missing:
        started = time.monotonic()
        _fetch(mirror, url, pull, missing, token)
        log.info("git mirror %s: fetched %d commit(s) in %.1f s", mirror.name, len(missing), time.monotonic() - started)
    keep = f"refs/guardrail/pull/{pull.number}"
    refs = f"update {keep}/base {pull.base_sha}\nupdate {keep}/head {pull.head_sha}\n"
    _checked(mirror, "update-ref", "--stdin", input=refs, bare=True)
    _checked(mirror, "-c", "gc.autoDetach=false", "gc", "--auto", "--quiet", bare=True)


def _fetch(mirror: Path, url: str, pull: PullInfo, missing: Sequence[str], token: str) -> None:
    """Fetch the ``missing`` commits: by sha first (GitHub serves any reachable commit), then by the refs that hold
    them (a fork's head is only reachable as ``refs/pull/<n>/head``). MirrorError when they are still missing."""
    keep = f"refs/guardrail/pull/{pull.number}"
    by_sha = [f"+{sha}:{keep}/{'head' if sha == pull.head_sha else 'base'}" for sha in missing]
    by_ref = [f"+refs/pull/{pull.number}/head:{keep}/head"]
    if _git(mirror, "check-ref-format", "--branch", pull.base_ref, bare=True).ok:
        by_ref.append(f"+refs/heads/{pull.base_ref}:{keep}/base")
    errors = []
    for refspecs in (by_sha, by_ref):
        fetch = ("fetch", "--no-tags", "--no-write-fetch-head", "--quiet", url, *refspecs)
        done = _git(mirror, *fetch, token=token, bare=True)
        if done.ok and not _missing(mirror, missing, bare=True):
            return
        errors.append(f"git fetch {' '.join(refspecs)}: {done.describe()}: {done.stderr.strip()[-300:]}")
    raise MirrorError("; ".join(errors))


def _rebuild(mirror: Path, url: str, pull: PullInfo, token: str) -> None:
    """A new mirror beside ``mirror``, swapped in once it holds the commits; the old one is kept if that fails."""
    fresh = mirror.with_name(f".{mirror.name}.new")
    old = mirror.with_name(f".{mirror.name}.old")
    for leftover in (fresh, old):
        _remove(leftover)
    try:
        _update(fresh, url, pull, token)
    except GuardrailError:
        _remove(fresh)
        raise
    if mirror.exists() or mirror.is_symlink():
        os.rename(mirror, old)
    os.rename(fresh, mirror)
    _remove(old)
    log.info("git mirror %s rebuilt", mirror.name)


def _borrow(checkout: Path, mirror: Path, url: str, pull: PullInfo) -> None:
    """An empty repository at ``checkout`` that reads ``mirror``'s objects (alternates) and writes its own."""
    checkout.mkdir(parents=True, exist_ok=True)
    _checked(checkout, "init", "--quiet")
    _checked(checkout, "remote", "add", "origin", url)
    _checked(checkout, "config", "gc.auto", "0")  # a repository that borrows objects must not pack them
    info = checkout / ".git" / "objects" / "info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "alternates").write_text(f"{(mirror / 'objects').resolve()}\n", encoding="utf-8")
    for sha in _missing(checkout, (pull.base_sha, pull.head_sha)):
        raise MirrorError(f"the checkout does not see commit {sha} of the mirror")


def _init_bare(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _checked(path.parent, "init", "--quiet", "--bare", str(path))


def _clear_stale_locks(mirror: Path) -> None:
    """Remove the ``*.lock`` files a killed git left in ``mirror`` (outside its objects): while we hold the mirror's
    lock no git of ours runs in it, so every such file is stale and would make the next ref update fail."""
    for folder, dirs, files in os.walk(mirror):
        if Path(folder) == mirror:
            dirs[:] = [d for d in dirs if d != "objects"]
        for name in files:
            if name.endswith(".lock"):
                Path(folder, name).unlink(missing_ok=True)
                log.info("git mirror %s: removed a stale %s", mirror.name, name)


def _missing(repo: Path, shas: Sequence[str], *, bare: bool = False) -> list[str]:
    """The commits of ``shas`` that ``repo`` (or the mirror it borrows from) lacks, in one ``git cat-file``;
    MirrorError when git cannot look, or reports damage while looking (a pack that does not match its index, a
    corrupt object: ``error:`` lines)."""
    lines = "".join(f"{sha}^{{commit}}\n" for sha in shas)
    done = _git(repo, "cat-file", "--batch-check", input=lines, bare=bare)
    damage = [line for line in done.stderr.splitlines() if line.startswith(("error:", "fatal:"))]
    answers = done.stdout.splitlines()
    if damage or not done.ok or len(answers) != len(shas):
        raise MirrorError(f"git cannot read {repo}: {(damage or [done.describe()])[0][:300]}")
    return [sha for sha, answer in zip(shas, answers, strict=True) if answer.split()[1:2] != ["commit"]]


def _checked(repo: Path, *args: str, input: str | None = None, bare: bool = False) -> None:
    done = _git(repo, *args, input=input, bare=bare)
    if not done.ok:
        raise MirrorError(f"git {' '.join(args)} failed in {repo}: {done.describe()}: {done.stderr.strip()[-300:]}")


def _git(repo: Path, *args: str, token: str = "", input: str | None = None, bare: bool = False) -> proc.ProcResult:
    """One git command of ours in ``repo``: :mod:`checks.gitenv`'s environment plus the proxy and CA variables a
    fetch needs; ``token`` as GitHub's Basic ``x-access-token`` header for this command only. ``bare``: ``repo`` is
    the mirror, named by ``GIT_DIR`` so that git never looks for a repository above a damaged one (a cache folder
    inside someone's home repository would otherwise be fetched into)."""
    env = gitenv.env() | {name: os.environ[name] for name in NETWORK_ENV if name in os.environ}
    if bare:
        env["GIT_DIR"] = str(repo)
    env |= action_git.token_env(token)
    return proc.run(gitenv.argv(args), cwd=repo, timeout=GIT_TIMEOUT, input=input, isolate_network=False, base_env=env)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        proc.remove_tree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
