"""Gate 1, ``apply``: the patch is a text diff within the size limit and applies cleanly to the head's worktree.

Model-written diffs are often sloppy (wrong hunk counts, drifted context, whitespace), so after a plain
``git apply --check`` fails, more lenient options are tried in turn; the summary says which one worked.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from bot.types import Finding, GateResult, GateSettings
from checks import gitenv, proc
from checks.patch import ParsedPatch, PatchRejected, parse

NAME = "apply"
GIT_APPLY_TIMEOUT = 60.0
# Tried in order; the first that passes `git apply --check` is used to apply.
STRATEGIES: tuple[tuple[str, ...], ...] = (
    (),
    ("--recount",),
    ("--recount", "-C1"),
    ("--recount", "-C1", "--ignore-whitespace"),
)
_FAILED_AT = re.compile(r"^error: patch failed: (.+):(\d+)$")
_PATH_ERROR = re.compile(r"^error: (.+?): (patch does not apply|No such file or directory|already exists in .*)$")
_INVALID_PATH = re.compile(r"^error: invalid path '(.+)'$")


@dataclass(frozen=True)
class Applied:
    """A patch that is applied in the worktree, the ``git apply`` options that applied it, and git's own reading
    of it: the paths of ``--numstat`` and the lines of ``--summary`` (modes, renames), for the paths gate."""

    patch: ParsedPatch
    options: tuple[str, ...]
    git_paths: tuple[str, ...] = ()
    git_summary: tuple[str, ...] = ()


def _git_reading(stdout: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    # `--numstat -z` entries end in NUL ("added<TAB>deleted<TAB>path"); the `--summary` lines follow them.
    cut = stdout.rfind("\0")
    entries, summary = stdout[: max(cut, 0)], stdout[cut + 1 :]
    paths = tuple(e.split("\t")[-1] for e in entries.split("\0") if e.split("\t")[-1])
    return paths, tuple(line for line in summary.splitlines() if line.strip())


def git_apply(worktree: Path, patch: ParsedPatch, *options: str) -> proc.ProcResult:
    """``git apply -p<strip> <options>`` with the patch's bytes on stdin, in the worktree (see checks.gitenv)."""
    # explicit configuration: --numstat/--summary output is parsed, and a user's apply.ignoreWhitespace would loosen
    # the matching that the strategies below control
    config = ["-c", "core.quotePath=true", "-c", "apply.ignoreWhitespace=no", "-c", "apply.whitespace=nowarn"]
    args = [*config, "apply", "--whitespace=nowarn", f"-p{patch.strip}", *options]
    data = patch.text.encode("utf-8", errors="surrogateescape")  # the bytes as read: CRLF and non-UTF-8 survive
    return gitenv.run(worktree, args, timeout=GIT_APPLY_TIMEOUT, input=data)


def _findings(stderr: str) -> tuple[Finding, ...]:
    found: list[Finding] = []
    for line in stderr.splitlines():
        if match := _FAILED_AT.match(line):
            found.append(Finding(match[1], int(match[2]), "does-not-apply", "the hunk's context does not match"))
        elif match := _PATH_ERROR.match(line):
            found.append(Finding(match[1], 0, "does-not-apply", match[2]))
        elif match := _INVALID_PATH.match(line):
            path = match[1]
            parts = path.split("/")
            if path.startswith("/") or ".." in parts:
                rule = "outside-repo"
            else:
                rule = "git-dir" if ".git" in (p.lower() for p in parts) else "invalid-path"
            found.append(Finding(path, 0, rule, "git refuses this path"))
    return tuple(dict.fromkeys(found))


def _first_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith(("error:", "fatal:"))] or stderr.splitlines()
    return lines[0].strip() if lines else "git apply failed without a message"


def run(worktree: Path, text: str, settings: GateSettings) -> tuple[GateResult, Applied | None]:
    """Apply ``text`` in ``worktree``; the result and, when it applied, what was applied and how."""
    start = time.monotonic()
    try:
        patch = parse(text, settings.max_patch_bytes)
    except PatchRejected as exc:
        return GateResult(NAME, "fail", str(exc), exc.findings, time.monotonic() - start), None
    first_failure: proc.ProcResult | None = None
    for options in STRATEGIES:
        # One call checks the patch and gives git's reading of its paths and modes; a second one applies it.
        check = git_apply(worktree, patch, "--check", "--numstat", "--summary", "-z", *options)
        if not check.ok:
            first_failure = first_failure or check
            continue
        done = git_apply(worktree, patch, *options)
        if not done.ok:
            summary = f"`git apply --check` passed but applying failed: {_first_error(done.stderr)}"
            return GateResult(NAME, "error", summary, _findings(done.stderr), time.monotonic() - start), None
        how = f"with `{' '.join(options)}`" if options else "cleanly"
        summary = f"applies {how} ({len(patch.files)} file(s))"
        applied = Applied(patch, options, *_git_reading(check.stdout))
        return GateResult(NAME, "pass", summary, (), time.monotonic() - start), applied
    stderr = first_failure.stderr if first_failure else ""
    tried = ", ".join(" ".join(o) or "plain" for o in STRATEGIES)
    summary = f"does not apply to the head ({_first_error(stderr)}); tried: {tried}"
    return GateResult(NAME, "fail", summary, _findings(stderr), time.monotonic() - start), None
