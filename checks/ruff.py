"""Gate 3, ``ruff``: no new ruff findings in the Python files the patch touches.

Only the touched files are linted, after the patch first; a file is linted before the patch (its head content on
stdin, under the same name so the same configuration applies) only when it has findings afterwards. A finding is
"new" by (path, rule, message, text of the flagged line) as a multiset, so findings that were already there are
not blamed and a line shift does not make an old finding new. The repository's own ruff settings apply; where the
files have none, ruff runs ``--isolated`` (its defaults, ignoring any user-level or parent-directory config).
"""

from __future__ import annotations

import json
import shutil
import sysconfig
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import GateError
from bot.types import Finding, GateResult, GateSettings
from checks import proc, worktree
from checks.apply import Applied

NAME = "ruff"
RUFF_TIMEOUT = 120.0
PYTHON_SUFFIXES = (".py", ".pyi")
_CONFIG_FILES = ("ruff.toml", ".ruff.toml")


@dataclass(frozen=True)
class _Hit:
    finding: Finding
    line_text: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.finding.path, self.finding.rule, self.finding.message, self.line_text)


def ruff_binary() -> str:
    """The ruff installed alongside Guardrail (a known version), else the first one on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "ruff"
    if beside.is_file():
        return str(beside)
    found = shutil.which("ruff")
    if found is None:
        raise GateError("ruff is not installed; install Guardrail with its dependencies (`pip install guardrail`)")
    return found


def _has_config(root: Path, files: Sequence[str]) -> bool:
    dirs = {root}
    for rel in files:
        parent = (root / rel).parent
        while parent != root and parent.is_relative_to(root):
            dirs.add(parent)
            parent = parent.parent
    for folder in dirs:
        if any((folder / name).is_file() for name in _CONFIG_FILES):
            return True
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "[tool.ruff" in pyproject.read_text(encoding="utf-8", errors="replace"):
            return True
    return False


def _ruff(root: Path, args: Sequence[str], isolated: bool, stdin: str | None = None) -> list[dict[str, Any]]:
    argv = [ruff_binary(), "check", "--output-format", "json", "--no-cache", "--force-exclude", "--exit-zero"]
    argv += ["--isolated"] if isolated else []
    result = proc.run([*argv, *args], cwd=root, timeout=RUFF_TIMEOUT, input=stdin, isolate_network=False)
    if not result.ok:
        detail = (result.stderr.strip() or result.stdout.strip()).splitlines()[:3]
        raise GateError(f"{result.describe()}: {' '.join(detail)}; check the repository's ruff configuration")
    try:
        data: list[dict[str, Any]] = json.loads(result.stdout or "[]")
    except json.JSONDecodeError as exc:
        raise GateError(f"ruff printed something that is not JSON ({exc}); is it ruff >= 0.6?") from exc
    return data


def _hits(root: Path, raw: list[dict[str, Any]], texts: dict[str, list[str]], name: str | None = None) -> list[_Hit]:
    hits = []
    for item in raw:
        path = name or Path(item["filename"]).resolve().relative_to(root.resolve()).as_posix()
        row = int((item.get("location") or {}).get("row") or 0)
        if path not in texts:
            texts[path] = (root / path).read_text(encoding="utf-8", errors="replace").splitlines()
        lines = texts[path]
        text = lines[row - 1].strip() if 0 < row <= len(lines) else ""
        rule = item.get("code") or "syntax-error"
        hits.append(_Hit(Finding(path, row, rule, str(item.get("message", ""))), text))
    return hits


def _before(root: Path, applied: Applied, path: str, isolated: bool) -> list[_Hit]:
    old = next((f.old_path for f in applied.patch.files if f.new_path == path), None)
    if old is None:
        return []  # a new file: everything in it is new
    content = worktree.read_file_at(root, "HEAD", old)
    if content is None:
        return []
    raw = _ruff(root, ["--stdin-filename", path, "-"], isolated, stdin=content)
    return _hits(root, raw, {path: content.splitlines()}, name=path)


def run(root: Path, applied: Applied, settings: GateSettings) -> GateResult:
    """Lint the touched Python files in the patched worktree ``root``; fail on any finding the head did not have."""
    start = time.monotonic()
    if not settings.ruff:
        return GateResult(NAME, "skipped", "disabled by gates.ruff.enabled", (), 0.0)
    files = [p for p in applied.patch.touched() if p.endswith(PYTHON_SUFFIXES) and (root / p).is_file()]
    if not files:
        return GateResult(NAME, "pass", "no Python file touched", (), time.monotonic() - start)
    isolated = not _has_config(root, files)
    after = _hits(root, _ruff(root, ["--", *files], isolated), {})
    flagged = sorted({hit.finding.path for hit in after})
    before: Counter[tuple[str, str, str, str]] = Counter()
    for path in flagged:
        before.update(hit.key for hit in _before(root, applied, path, isolated))
    new: list[Finding] = []
    for hit in after:
        if before[hit.key] > 0:
            before[hit.key] -= 1
        else:
            new.append(hit.finding)
    config = "ruff defaults (no ruff config in the repository)" if isolated else "the repository's ruff config"
    seconds = time.monotonic() - start
    if new:
        summary = f"{len(new)} new finding(s) in {len(files)} file(s), with {config}"
        return GateResult(NAME, "fail", summary, tuple(new), seconds)
    old = len(after)
    kept = f"; {old} finding(s) were already there" if old else ""
    return GateResult(NAME, "pass", f"no new finding in {len(files)} file(s), with {config}{kept}", (), seconds)
