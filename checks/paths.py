"""Gate 2, ``paths``: the patch stays inside the repository and leaves the gates themselves alone.

Rejected: a path outside the repository (``..``, absolute), anything under ``.git/``, a symlink or a submodule,
and any file matching the protected paths (tests and the files that configure ruff, pytest and CI), so a patch
cannot make the gates pass by weakening them. The file names come from our own reading of the diff headers and
are confirmed with ``git apply --numstat``/``--summary`` and, after applying, by looking at the worktree.

Protected-path patterns read like ``.gitignore`` lines: a name without ``/`` (``conftest.py``, ``test_*.py``)
matches at any depth, a trailing ``/`` (``tests/``) means a directory at any depth, and a pattern with a ``/``
inside (``src/*/settings.py``, ``migrations/**``) is anchored at the repository root, ``**`` spanning folders.
"""

from __future__ import annotations

import fnmatch
import functools
import re
import time
from collections.abc import Iterable
from pathlib import Path

from bot.parse.diff import unquote_path
from bot.types import Finding, GateResult, GateSettings
from checks.apply import Applied
from checks.patch import DEV_NULL, ParsedPatch

NAME = "paths"
DEFAULT_PROTECTED: tuple[str, ...] = (
    # the tests themselves
    "tests/",
    "test/",
    "test_*.py",
    "*_test.py",
    "conftest.py",
    # CI and the gates' own configuration
    ".github/",
    "pyproject.toml",
    "setup.cfg",
    "tox.ini",
    "noxfile.py",
    "ruff.toml",
    ".ruff.toml",
    "pytest.ini",
    "mypy.ini",
    ".mypy.ini",
    ".coveragerc",
    ".pre-commit-config.yaml",
    ".gitlab-ci.yml",
    ".travis.yml",
    ".circleci/",
    "azure-pipelines.yml",
    "appveyor.yml",
    ".appveyor.yml",
    "bitbucket-pipelines.yml",
    "Jenkinsfile",
    ".buildkite/",
    ".ci/",
    ".gitmodules",
    ".gitattributes",
    # code Python runs at start-up, before any test: it could rewrite the test run's outcome
    "sitecustomize.py",
    "usercustomize.py",
    "*.pth",
)
SYMLINK_MODE, SUBMODULE_MODE = "120000", "160000"
_SUMMARY_MODE = re.compile(r"^ (?:create|delete) mode (\d{6}) (.+)$|^ mode change \d{6} => (\d{6}) (.+)$")


@functools.cache
def _regex(pattern: str) -> re.Pattern[str]:
    body = pattern.strip("/")
    out = []
    for part in re.split(r"(\*\*/|/\*\*|\*|\?)", body):
        out.append({"**/": "(?:.*/)?", "/**": "(?:/.*)?", "*": "[^/]*", "?": "[^/]"}.get(part, re.escape(part)))
    tail = "(?:/.*)?" if pattern.endswith("/") else ""
    return re.compile("".join(out) + tail)


def matches(pattern: str, path: str) -> bool:
    """Whether ``path`` (relative, ``/``-separated) matches one protected-path ``pattern`` (see the module doc)."""
    parts = path.split("/")
    inner = pattern.rstrip("/")
    if "/" not in inner:
        if pattern.endswith("/"):  # a directory name at any depth
            return any(fnmatch.fnmatchcase(part, inner) for part in parts[:-1])
        return any(fnmatch.fnmatchcase(part, inner) for part in parts)
    return _regex(pattern.lstrip("/")).fullmatch(path) is not None


def protected_patterns(settings: GateSettings) -> tuple[str, ...]:
    """The defaults minus ``protected_paths.remove``, plus ``protected_paths.add``."""
    removed = set(settings.protected_remove)
    return tuple(p for p in DEFAULT_PROTECTED if p not in removed) + tuple(settings.protected_add)


def _outside(raw: str) -> str | None:
    if raw == DEV_NULL:
        return None
    if raw.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:[\\/]", raw):
        return "absolute path"
    if ".." in re.split(r"[\\/]", raw):
        return "`..` leaves the repository"
    return None


def _path_findings(path: str, patterns: Iterable[str]) -> list[Finding]:
    if not path or path.endswith("/"):
        return [Finding(path, 0, "invalid-path", "empty or directory-only path")]
    if any(part.lower().rstrip(". ") == ".git" for part in re.split(r"[\\/]", path)):
        return [Finding(path, 0, "git-dir", "a patch may not touch git's own files")]
    for pattern in patterns:
        if matches(pattern, path):
            return [Finding(path, 0, "protected-path", f"protected by {pattern!r}: a patch may not change the gates")]
    return []


def _mode_findings(path: str, modes: Iterable[str]) -> list[Finding]:
    found = []
    if SYMLINK_MODE in modes:
        found.append(Finding(path, 0, "symlink", "symbolic links are not accepted"))
    if SUBMODULE_MODE in modes:
        found.append(Finding(path, 0, "submodule", "submodules are not accepted"))
    return found


def escaping(patch: ParsedPatch) -> list[Finding]:
    """Paths in the patch's headers that leave the repository or enter ``.git/``: found before git sees the patch,
    so such a patch is never applied at all and the rejection names the ``paths`` gate, not a git error."""
    found: list[Finding] = []
    for change in patch.files:
        for raw in change.raw_paths:
            if why := _outside(raw):
                shown = raw[2:] if patch.strip == 1 and raw[:2] in ("a/", "b/") else raw
                found.append(Finding(shown, 0, "outside-repo", why))
        for path in {change.old_path, change.new_path} - {None}:
            found.extend(f for f in _path_findings(str(path), ()) if f.rule == "git-dir")
    return list(dict.fromkeys(found))


def _from_headers(applied: Applied, patterns: tuple[str, ...]) -> list[Finding]:
    found: list[Finding] = []
    for change in applied.patch.files:
        for raw in change.raw_paths:
            if why := _outside(raw):
                found.append(Finding(raw, 0, "outside-repo", why))
        for path in {change.old_path, change.new_path} - {None}:
            found.extend(_path_findings(str(path), patterns))
        found.extend(_mode_findings(change.path, change.modes))
    return found


def _from_git(applied: Applied, patterns: tuple[str, ...]) -> list[Finding]:
    # git's own reading of the same patch; a disagreement with ours must not let a path through.
    found: list[Finding] = []
    for path in applied.git_paths:
        found.extend(_path_findings(path, patterns))
    for line in applied.git_summary:
        if match := _SUMMARY_MODE.match(line):
            mode, path = (match[1], match[2]) if match[1] else (match[3], match[4])
            found.extend(_mode_findings(unquote_path(path), [mode]))
    return found


def _from_worktree(worktree: Path, applied: Applied) -> list[Finding]:
    found = []
    for path in applied.patch.touched():
        target = worktree / path
        if target.is_symlink():
            found.append(Finding(path, 0, "symlink", "the patch leaves a symbolic link here"))
        elif not target.resolve().is_relative_to(worktree.resolve()):
            found.append(Finding(path, 0, "outside-repo", "resolves outside the repository"))
    return found


def run(worktree: Path, applied: Applied, settings: GateSettings) -> GateResult:
    """Check every path the applied patch names; fail on the first kind of problem with all its findings."""
    start = time.monotonic()
    patterns = protected_patterns(settings)
    found = _from_headers(applied, patterns) + _from_git(applied, patterns)
    found += _from_worktree(worktree, applied)
    findings = tuple(dict.fromkeys(found))
    if findings:
        rules = ", ".join(sorted({f.rule for f in findings}))
        summary = f"{len(findings)} forbidden path(s) ({rules}): {findings[0].path}"
        return GateResult(NAME, "fail", summary, findings, time.monotonic() - start)
    summary = f"{len(applied.patch.files)} path(s) inside the repository, none protected"
    return GateResult(NAME, "pass", summary, (), time.monotonic() - start)
