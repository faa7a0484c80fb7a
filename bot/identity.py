"""Which repository this is (``owner/name``), for the admin policy's ``repos`` entries.

In order: the ``--repo-name`` flag, the GitHub event (the Action and the App know it from the payload), else the
``origin`` remote of the local checkout. When none gives a name and the admin policy names repositories,
``bot.policy.resolve`` asks no cloud model (fail closed: the repository could be one the admin marked local-only).

Remote URL forms understood (git-clone(1) "GIT URLS"): ``https://host/owner/name(.git)``, ``http://``, ``git://``,
``ssh://[user@]host[:port]/owner/name(.git)``, and the scp-like ``[user@]host:owner/name(.git)``. Credentials in
the URL are ignored. A local path or ``file://`` URL, or a path of more or fewer than two segments (a GitLab
subgroup), names no GitHub repository: None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from checks import proc

_SEGMENT = r"[A-Za-z0-9_.-]+"
_SCP_LIKE = re.compile(rf"^(?:[^@/\s]+@)?(?P<host>[A-Za-z0-9.-]+):(?!//)/?(?P<path>{_SEGMENT}/{_SEGMENT}/?)$")
_URL_SCHEMES = ("https", "http", "ssh", "git", "git+ssh", "ssh+git")


@dataclass(frozen=True)
class RepoIdentity:
    """``name`` (``owner/name``, or None when unknown) and where it came from, for the notes."""

    name: str | None
    source: str


def repo_name_from_remote(url: str) -> str | None:
    """``owner/name`` from a git remote URL, or None when the URL does not name one (see the module's forms)."""
    url = url.strip()
    path: str | None = None
    match = _SCP_LIKE.match(url)
    if match is not None:
        path = match["path"]
    else:
        parts = urlsplit(url)
        if parts.scheme.lower() in _URL_SCHEMES and parts.hostname:
            path = parts.path
    if path is None:
        return None
    segments = [s for s in path.strip("/").split("/") if s]
    if len(segments) != 2:
        return None
    owner, name = segments[0], segments[1].removesuffix(".git")
    if not (re.fullmatch(_SEGMENT, owner) and re.fullmatch(_SEGMENT, name)) or name in ("", ".", ".."):
        return None
    return f"{owner}/{name}"


def origin_url(repo: Path) -> str | None:
    """The ``origin`` remote's URL of the repository at ``repo``; None when it has none."""
    result = proc.run(["git", "config", "--get", "remote.origin.url"], cwd=repo, timeout=30, isolate_network=False)
    return result.stdout.strip() or None if result.ok else None


def repo_identity(repo: Path, flag: str | None, event_name: str | None = None) -> RepoIdentity:
    """The repository's name: ``flag`` (``--repo-name``), else ``event_name`` (the GitHub event's
    ``repository.full_name``), else the ``origin`` remote of ``repo``; ``name`` None when none gives one."""
    if flag:
        return RepoIdentity(flag, "--repo-name")
    if event_name:
        return RepoIdentity(event_name, "the GitHub event")
    url = origin_url(repo)
    name = repo_name_from_remote(url) if url else None
    if name is not None:
        return RepoIdentity(name, "the origin remote")
    shown = re.sub(r"//[^/@]*@", "//", url) if url else ""  # never repeat credentials from the URL
    why = f"the origin remote {shown!r} names no owner/name" if url else "no origin remote"
    return RepoIdentity(None, f"no --repo-name, no GitHub event, {why}")
