"""Gate 3, ``ruff``: no new ruff findings in the Python files the patch touches, and none hidden by a new comment.

Only the touched files are linted, after the patch and before it (the head's content on stdin, under the same name
so the same configuration applies). A finding is "new" by (path, rule, message, text of the flagged line) as a
multiset, so findings that were already there are not blamed and a line shift does not make an old finding new.
The repository's own ruff settings apply; where the files have none, ruff runs ``--isolated`` (its defaults,
ignoring any user-level or parent-directory config).

Ruff never writes the files it judges, whatever the repository's config says (``fix = true``, another
``output-format``): every run is ``--no-fix --no-cache --output-format json``. A suppression comment the patch adds
(``# noqa``, ``# ruff: noqa``, ``# flake8: noqa``, ``# ruff: disable[...]``, ``# isort: skip_file``...) does not
hide what it suppresses: those comments are neutralised on the lines the patch adds and the file is linted again,
so a finding the patch both adds and suppresses is a finding. (Ruff's ``--ignore-noqa`` is not enough: it ignores
the head's own exemptions too, which would blame the patch for findings the project chose to exempt, and it does
not undo isort's ``skip_file``.) A file ruff cannot parse is a finding, ``invalid-syntax``.
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
import sysconfig
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot.errors import GateError
from bot.types import Finding, GateResult, GateSettings
from checks import proc, worktree
from checks.apply import Applied

NAME = "ruff"
RUFF_TIMEOUT = 120.0
PYTHON_SUFFIXES = (".py", ".pyi")
SYNTAX_RULE = "invalid-syntax"
_CONFIG_FILES = ("ruff.toml", ".ruff.toml")
# Comments that make ruff (or the linters it emulates) skip a line, a range or a whole file.
SUPPRESSION = re.compile(
    r"#\s*(?:noqa\b|(?:ruff|flake8)\s*:\s*(?:noqa|disable|enable|isort)\b|isort\s*:\s*(?:skip|off|skip_file)\b)"
    r"[^#]*",
    re.IGNORECASE,
)
_FILLER = "#~"  # what a neutralised suppression comment becomes (padded to the same length with "~")
_FILLED = re.compile(r"#~+")

Key = tuple[str, str, str, str]


@dataclass(frozen=True)
class _Hit:
    finding: Finding
    line_text: str

    @property
    def key(self) -> Key:
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
    # --no-fix and an explicit output format override the repository's `fix = true` / `output-format`: ruff must
    # never rewrite what it judges (the posted patch would differ from the checked one), and we read only JSON.
    argv = [ruff_binary(), "check", "--no-fix", "--output-format", "json", "--no-cache", "--force-exclude"]
    argv += ["--exit-zero", *(["--isolated"] if isolated else [])]
    result = proc.run([*argv, *args], cwd=root, timeout=RUFF_TIMEOUT, input=stdin, isolate_network=False)
    if not result.ok:
        detail = (result.stderr.strip() or result.stdout.strip()).splitlines()[:3]
        raise GateError(f"{result.describe()}: {' '.join(detail)}; check the repository's ruff configuration")
    try:
        data: list[dict[str, Any]] = json.loads(result.stdout or "[]")
    except json.JSONDecodeError as exc:
        raise GateError(f"ruff printed something that is not JSON ({exc}); is it ruff >= 0.6?") from exc
    return data


def _normal(text: str) -> str:
    """A flagged line's text for comparing before with after: suppression comments (and their neutralised form)
    left out, so adding ``# noqa`` to a line does not turn an old finding into a new one."""
    return _FILLED.sub("", SUPPRESSION.sub("", text)).strip()


def _hits(raw: list[dict[str, Any]], path: str, lines: list[str]) -> list[_Hit]:
    hits = []
    for item in raw:
        row = int((item.get("location") or {}).get("row") or 0)
        text = lines[row - 1] if 0 < row <= len(lines) else ""
        rule = item.get("code") or SYNTAX_RULE
        hits.append(_Hit(Finding(path, row, rule, str(item.get("message", ""))), _normal(text)))
    return hits


def _relative(root: Path, filename: str) -> str:
    return Path(filename).resolve().relative_to(root.resolve()).as_posix()


def _on_stdin(root: Path, path: str, content: str, isolated: bool) -> list[_Hit]:
    raw = _ruff(root, ["--stdin-filename", path, "-"], isolated, stdin=content)
    return _hits(raw, path, content.splitlines())


def added_lines(before: str | None, after: str) -> list[int]:
    """0-based indexes of the lines of ``after`` that are not in ``before`` (all of them for a new file)."""
    new = after.splitlines()
    if before is None:
        return list(range(len(new)))
    matcher = difflib.SequenceMatcher(None, before.splitlines(), new, autojunk=False)
    return [j for tag, _, _, j1, j2 in matcher.get_opcodes() if tag in ("replace", "insert") for j in range(j1, j2)]


def _filler(match: re.Match[str]) -> str:
    text = match.group(0)
    core = text.rstrip()
    return _FILLER + "~" * (len(core) - len(_FILLER)) + text[len(core) :]


def neutralise(after: str, lines: Iterable[int]) -> tuple[str, int]:
    """``after`` with every suppression comment on the given lines replaced by a same-length plain comment (so no
    line gets longer or gains trailing space); and how many were replaced."""
    rows = after.splitlines(keepends=True)
    count = 0
    for index in lines:
        line = rows[index]
        body = line.rstrip("\r\n")
        changed = SUPPRESSION.sub(_filler, body)
        if changed != body:
            count += 1
            rows[index] = changed + line[len(body) :]
    return "".join(rows), count


def _minus(hits: Iterable[_Hit], others: Iterable[_Hit]) -> list[_Hit]:
    left: Counter[Key] = Counter(hit.key for hit in others)
    out = []
    for hit in hits:
        if left[hit.key] > 0:
            left[hit.key] -= 1
        else:
            out.append(hit)
    return out


@dataclass
class _FileJudgement:
    new: list[Finding]
    removed: list[Finding]
    old: int  # findings at the head that are still there


def _judge(root: Path, applied: Applied, path: str, after_hits: list[_Hit], isolated: bool) -> _FileJudgement:
    after = (root / path).read_text(encoding="utf-8", errors="replace")
    old_path = next((f.old_path for f in applied.patch.files if f.new_path == path), None)
    before = worktree.read_file_at(root, "HEAD", old_path) if old_path is not None else None
    judged = after_hits
    neutral, count = neutralise(after, added_lines(before, after))
    if count:
        judged = _on_stdin(root, path, neutral, isolated)
    before_hits = _on_stdin(root, path, before, isolated) if before is not None else []
    hidden = {id(hit) for hit in _minus(judged, after_hits)} if count else set()
    new = []
    for hit in _minus(judged, before_hits):
        finding = hit.finding
        if id(hit) in hidden:
            finding = replace(finding, message=f"{finding.message} (hidden by a suppression comment the patch adds)")
        new.append(finding)
    removed = [hit.finding for hit in _minus(before_hits, judged)]
    return _FileJudgement(new, removed, len(judged) - len(_minus(judged, before_hits)))


def run(root: Path, applied: Applied, settings: GateSettings) -> GateResult:
    """Lint the touched Python files in the patched worktree ``root``; fail on any finding the head did not have.

    The result's ``fixed`` lists the head's findings the patch removes (a suppression comment removes nothing)."""
    start = time.monotonic()
    if not settings.ruff:
        return GateResult(NAME, "skipped", "disabled by gates.ruff.enabled", (), 0.0)
    files = [p for p in applied.patch.touched() if p.endswith(PYTHON_SUFFIXES) and (root / p).is_file()]
    if not files:
        return GateResult(NAME, "pass", "no Python file touched", (), time.monotonic() - start)
    isolated = not _has_config(root, files)
    by_file: dict[str, list[_Hit]] = {path: [] for path in files}
    texts = {path: (root / path).read_text(encoding="utf-8", errors="replace").splitlines() for path in files}
    for item in _ruff(root, ["--", *files], isolated):
        path = _relative(root, item["filename"])
        by_file.setdefault(path, []).extend(_hits([item], path, texts.get(path, [])))
    new: list[Finding] = []
    removed: list[Finding] = []
    old = 0
    for path in files:
        judgement = _judge(root, applied, path, by_file[path], isolated)
        new += judgement.new
        removed += judgement.removed
        old += judgement.old
    config = "ruff defaults (no ruff config in the repository)" if isolated else "the repository's ruff config"
    seconds = time.monotonic() - start
    gone = f"; removes {len(removed)} finding(s) the head had" if removed else ""
    if new:
        unparsable = sorted({f.path for f in new if f.rule == SYNTAX_RULE})
        syntax = f" (syntax error: ruff cannot parse {', '.join(unparsable)})" if unparsable else ""
        hidden = sum(1 for f in new if f.message.endswith("the patch adds)"))
        masked = f", {hidden} of them hidden by a suppression comment the patch adds" if hidden else ""
        summary = f"{len(new)} new finding(s) in {len(files)} file(s){syntax}{masked}, with {config}{gone}"
        return GateResult(NAME, "fail", summary, tuple(new), seconds, fixed=tuple(removed))
    kept = f"; {old} finding(s) were already there" if old else ""
    summary = f"no new finding in {len(files)} file(s), with {config}{kept}{gone}"
    return GateResult(NAME, "pass", summary, (), seconds, fixed=tuple(removed))
