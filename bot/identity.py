"""Which repository this is (``owner/name``), for the admin policy's ``repos`` entries.

In order: the ``--repo-name`` flag, the GitHub event (the Action and the App know it from the payload), else the
``origin`` remote of the local checkout. When none gives a name and the admin policy names repositories,
``bot.policy.resolve`` asks no cloud model (fail closed: the repository could be one the admin marked local-only).

Remote URL forms understood (git-clone(1) "GIT URLS"): ``https://host/owner/name(.git)``, ``http://``, ``git://``,
``ssh://[user@]host[:port]/owner/name(.git)``, and the scp-like ``[user@]host:owner/name(.git)``. Credentials in
the URL are ignored. A local path or ``file://`` URL, or a path of more or fewer than two segments (a GitLab
subgroup), names no GitHub repository: None.

A name is GitHub's ``owner/name`` form, ASCII only (owner: letters, digits and ``-``, at most 39; name: letters,
digits, ``-``, ``_``, ``.``, at most 100, not ``.``/``..``, not ending in ``.git``): a look-alike letter, a URL, a
trailing slash or ``.git`` is refused, never matched loosely against the admin's globs. When the flag or the event
names one repository and the checkout's ``origin`` remote plainly names another, the name is unknown (fail closed:
the code in the checkout may belong to a repository the admin marked local-only).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from checks import proc

_SEGMENT = r"[A-Za-z0-9_.-]+"
_FULL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/(?P<name>[A-Za-z0-9_.-]{1,100})")
_SCP_LIKE = re.compile(rf"^(?:[^@/\s]+@)?(?P<host>[A-Za-z0-9.-]+):(?!//)/?(?P<path>{_SEGMENT}/{_SEGMENT}/?)$")
_URL_SCHEMES = ("https", "http", "ssh", "git", "git+ssh", "ssh+git")


@dataclass(frozen=True)
class RepoIdentity:
    """``name`` (``owner/name``, or None when unknown) and where it came from, for the notes."""

    name: str | None
    source: str


def is_repo_name(text: str) -> bool:
    """True when ``text`` is a repository name in GitHub's ``owner/name`` form (see the module's rules)."""
    match = _FULL_NAME.fullmatch(text)
    if match is None:
        return False
    return match["name"] not in (".", "..") and not match["name"].lower().endswith(".git")


def repo_name_flag(text: str) -> str:
    """argparse ``type`` of ``--repo-name``: ``text`` when it is an ``owner/name``; else ArgumentTypeError saying the
    form (and the name it probably meant, for a URL, a trailing slash or ``.git``)."""
    if is_repo_name(text):
        return text
    meant = repo_name_from_remote(text) or repo_name_from_remote(f"https://github.com/{text.strip().strip('/')}")
    hint = f" (did you mean {meant}?)" if meant and meant != text and is_repo_name(meant) else ""
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a GitHub owner/name{hint}; use the repository's name as GitHub shows it, e.g. acme/payments "
        "(ASCII letters, digits, '-', '_', '.')"
    )


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


def origin_urls(repo: Path) -> list[str]:
    """The ``origin`` remote's URLs of the repository at ``repo`` as git uses them (``git remote get-url --all``:
    every ``url`` line, ``insteadOf`` rewrites applied); [] when it has none."""
    result = proc.run(["git", "remote", "get-url", "--all", "origin"], cwd=repo, timeout=30, isolate_network=False)
    return [line.strip() for line in result.stdout.splitlines() if line.strip()] if result.ok else []


def origin_url(repo: Path) -> str | None:
    """The ``origin`` remote's (first) URL of the repository at ``repo``; None when it has none."""
    urls = origin_urls(repo)
    return urls[0] if urls else None


def _shown(url: str) -> str:
    return re.sub(r"//[^/@]*@", "//", url)  # never repeat credentials from the URL


def origin_name(repo: Path) -> tuple[str | None, str | None]:
    """(the ``owner/name`` the origin remote names or None, why the name cannot be trusted or None). An origin with
    several URLs naming different repositories (``git remote set-url --add``: fetch uses the first, a reader of
    ``remote.origin.url`` sees the last) cannot be trusted: the second item says so."""
    urls = origin_urls(repo)
    names = {repo_name_from_remote(url) for url in urls}
    named = sorted({n.lower() for n in names if n is not None})
    if len(urls) > 1 and (len(named) > 1 or (named and None in names)):
        shown = ", ".join(repr(_shown(u)) for u in urls)
        return None, f"the origin remote has several URLs that do not name one repository ({shown})"
    return next((n for n in names if n is not None), None), None


def repo_identity(repo: Path, flag: str | None, event_name: str | None = None) -> RepoIdentity:
    """The repository's name: ``flag`` (``--repo-name``), else ``event_name`` (the GitHub event's
    ``repository.full_name``), else the ``origin`` remote of ``repo``; ``name`` None when none gives one, or when
    the origin contradicts the flag or the event or itself."""
    name, distrust = origin_name(repo)
    if distrust is not None:
        return RepoIdentity(None, distrust)
    if flag or event_name:
        return confirmed_by_origin(flag or event_name or "", "--repo-name" if flag else "the GitHub event", name)
    if name is not None:
        return RepoIdentity(name, "the origin remote")
    url = origin_url(repo)
    why = f"the origin remote {_shown(url)!r} names no owner/name" if url else "no origin remote"
    return RepoIdentity(None, f"no --repo-name, no GitHub event, {why}")


def confirmed_by_origin(claimed: str, source: str, origin_name: str | None) -> RepoIdentity:
    """``claimed`` (from ``source``) unless it is no ``owner/name`` or the origin remote's name ``origin_name``
    (None: the origin names none) is another repository (compared as GitHub does, ignoring case): then unknown."""
    if not is_repo_name(claimed):
        return RepoIdentity(None, f"{source} names {claimed!r}, not an owner/name")
    if origin_name is not None and origin_name.lower() != claimed.lower():
        return RepoIdentity(None, f"{source} names {claimed} but the checkout's origin remote names {origin_name}")
    return RepoIdentity(claimed, source)


def checkout_identity(repo: Path, claimed: str, source: str) -> RepoIdentity:
    """The name ``claimed`` by ``source`` (the event) checked against the origin remote of the checkout at ``repo``."""
    name, distrust = origin_name(repo)
    if distrust is not None:
        return RepoIdentity(None, distrust)
    return confirmed_by_origin(claimed, source, name)
