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
import importlib.metadata
import re
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from bot.parse.diff import unquote_path
from bot.types import Finding, GateResult, GateSettings
from checks import toolconfig
from checks.apply import Applied
from checks.patch import DEV_NULL, ParsedPatch
from checks.worktree import list_files

NAME = "paths"
# Where the test runner, the linter and the interpreter read their configuration, from their own documentation:
# - pytest (docs.pytest.org/en/stable/reference/customize.html, "Configuration file formats" and "Finding the
#   rootdir"): pytest.toml and .pytest.toml (pytest 9), pytest.ini and .pytest.ini, pyproject.toml, tox.ini,
#   setup.cfg, looked for in the args' common ancestor and upwards, so at any depth; conftest.py files at any depth.
# - ruff (docs.astral.sh/ruff/configuration, "Config file discovery"): pyproject.toml, ruff.toml, .ruff.toml, the
#   closest one to each file, so at any depth.
# - Python (docs.python.org/3/library/site.html): sitecustomize, usercustomize and *.pth files run at start-up.
PYTEST_CONFIG = ("pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
RUFF_CONFIG = ("pyproject.toml", "ruff.toml", ".ruff.toml")
DEFAULT_PROTECTED: tuple[str, ...] = (
    # the tests themselves
    "tests/",
    "test/",
    "test_*.py",
    "*_test.py",
    "conftest.py",
    # how the test runner and the linter are configured (names match at any depth)
    *dict.fromkeys(PYTEST_CONFIG + RUFF_CONFIG),
    # CI and the other gates' configuration
    "noxfile.py",
    "mypy.ini",
    ".mypy.ini",
    ".coveragerc",
    ".pre-commit-config.yaml",
    ".gitlab-ci.yml",
    ".travis.yml",
    ".github/",
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
# The folders the tests import from first (checks.tests.import_env puts them before everything else on PYTHONPATH).
IMPORT_ROOTS = ("", "src/")
# The runner's own distributions; their plugins (entry point group "pytest11") and dependencies are added at run time.
RUNNER_DISTRIBUTIONS = ("pytest", "pluggy", "iniconfig", "packaging", "pygments", "tomli", "exceptiongroup")
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


def _requirement_name(requirement: str) -> str | None:
    if "extra ==" in requirement:
        return None
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return match[1] if match else None


@functools.cache
def shadowed_modules() -> frozenset[str]:
    """Top-level module names a file in an import root must not take: the standard library (PYTHONPATH comes before
    it, so a patch's ``xml/`` would replace the XML writer of the JUnit report), pytest, its plugins (entry points
    ``pytest11`` of the running environment) and everything they depend on."""
    owners: dict[str, set[str]] = {}
    for module, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            owners.setdefault(re.sub(r"[-_.]+", "-", dist).lower(), set()).add(module)
    todo = [*RUNNER_DISTRIBUTIONS]
    todo += [ep.dist.name for ep in importlib.metadata.entry_points(group="pytest11") if ep.dist is not None]
    seen: set[str] = set()
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.distribution(name).requires or []
        except importlib.metadata.PackageNotFoundError:
            continue
        todo += [dep for dep in map(_requirement_name, requires) if dep]
    modules = {module for dist in seen for module in owners.get(dist, ())}
    modules |= {"pytest", "_pytest", "py", "pluggy", "iniconfig", "packaging", "pygments", "xdist", "coverage"}
    return frozenset(modules | set(sys.stdlib_module_names))


def _module_name(path: str) -> str | None:
    """The top-level module an import-root path would define (``src/xml/x.py`` -> ``xml``), or None."""
    for root in sorted(IMPORT_ROOTS, key=len, reverse=True):
        if root and not path.startswith(root):
            continue
        rest = path[len(root) :]
        first, _, tail = rest.partition("/")
        if root == "" and first == "src" and tail:
            continue  # judged under src/
        if tail:
            return first if first.isidentifier() else None
        stem = first.split(".", 1)[0]
        suffix = first[len(stem) :]
        if suffix in (".py", ".pyi", ".pyc") or (suffix.endswith((".so", ".pyd")) and suffix.startswith(".")):
            return stem if stem.isidentifier() else None
        return None
    return None


def _shadow_findings(path: str, own: frozenset[str]) -> list[Finding]:
    module = _module_name(path)
    if module is None or module in own:
        return []  # the project's own module (pluggy's repository patching pluggy): judged by its tests
    if module not in shadowed_modules() and not module.startswith("pytest_"):
        return []
    why = f"would shadow the module `{module}` the test runner or Python itself imports (it comes first on the path)"
    return [Finding(path, 0, "protected-path", why)]


def _outside(raw: str) -> str | None:
    if raw == DEV_NULL:
        return None
    if raw.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:[\\/]", raw):
        return "absolute path"
    if ".." in re.split(r"[\\/]", raw):
        return "`..` leaves the repository"
    return None


def own_modules(paths: Iterable[str]) -> frozenset[str]:
    """The top-level modules the head itself defines in its import roots (from its tracked files)."""
    return frozenset(name for name in map(_module_name, paths) if name is not None)


def _path_findings(path: str, patterns: Iterable[str], own: frozenset[str] = frozenset()) -> list[Finding]:
    if not path or path.endswith("/"):
        return [Finding(path, 0, "invalid-path", "empty or directory-only path")]
    if any(part.lower().rstrip(". ") == ".git" for part in re.split(r"[\\/]", path)):
        return [Finding(path, 0, "git-dir", "a patch may not touch git's own files")]
    for pattern in patterns:
        if matches(pattern, path):
            return [Finding(path, 0, "protected-path", f"protected by {pattern!r}: a patch may not change the gates")]
    return _shadow_findings(path, own)


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


def _from_headers(applied: Applied, patterns: tuple[str, ...], own: frozenset[str]) -> list[Finding]:
    found: list[Finding] = []
    for change in applied.patch.files:
        for raw in change.raw_paths:
            if why := _outside(raw):
                found.append(Finding(raw, 0, "outside-repo", why))
        for path in {change.old_path, change.new_path} - {None}:
            found.extend(_path_findings(str(path), patterns, own))
        found.extend(_mode_findings(change.path, change.modes))
    return found


def _from_git(applied: Applied, patterns: tuple[str, ...], own: frozenset[str]) -> list[Finding]:
    # git's own reading of the same patch; a disagreement with ours must not let a path through.
    found: list[Finding] = []
    for path in applied.git_paths:
        found.extend(_path_findings(path, patterns, own))
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


def worktree_files(root: Path) -> list[str]:
    """The files tracked at the worktree's HEAD (the head, before the patch)."""
    return list_files(root, "HEAD")


def _referenced(root: Path, head_files: list[str], applied: Applied) -> list[Finding]:
    """Files the head's ruff or pytest configuration points at (``extend``, ``-p``, ``pytest_plugins``)."""
    pointed = toolconfig.referenced(root, head_files, IMPORT_ROOTS)
    names = {str(p) for change in applied.patch.files for p in (change.old_path, change.new_path) if p}
    names |= set(applied.git_paths)
    return [
        Finding(path, 0, "protected-path", f"{why}: a patch may not change the gates")
        for path, why in pointed.items()
        if path in names
    ]


def run(worktree: Path, applied: Applied, settings: GateSettings) -> GateResult:
    """Check every path the applied patch names; fail on the first kind of problem with all its findings."""
    start = time.monotonic()
    patterns = protected_patterns(settings)
    head_files = worktree_files(worktree)
    own = own_modules(head_files)
    found = _from_headers(applied, patterns, own) + _from_git(applied, patterns, own)
    found += _from_worktree(worktree, applied)
    found += _referenced(worktree, head_files, applied)
    findings = tuple(dict.fromkeys(found))
    if findings:
        rules = ", ".join(sorted({f.rule for f in findings}))
        summary = f"{len(findings)} forbidden path(s) ({rules}): {findings[0].path}"
        return GateResult(NAME, "fail", summary, findings, time.monotonic() - start)
    summary = f"{len(applied.patch.files)} path(s) inside the repository, none protected"
    return GateResult(NAME, "pass", summary, (), time.monotonic() - start)
