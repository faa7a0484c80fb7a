"""Gate 5, one per configured command (``gates.commands``, e.g. ``mypy src``): compared with the baseline by exit
status. Rejected when the command passed on the head without the patch and fails (or times out) with it; a command
that already failed on the head is not blamed. Lines of its output shaped ``path:line: message`` (mypy, flake8,
pyright and most linters) become findings.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bot.types import CommandGate, Finding, GateResult, GateSettings
from checks import proc
from checks.tests import import_env, split_command

MAX_FINDINGS = 50
_LOCATED = re.compile(r"^(?P<path>[^\s:][^:]*):(?P<line>\d+):(?:\d+:)?\s*(?P<message>.+)$")


def execute(
    root: Path,
    gate: CommandGate,
    settings: GateSettings,
    cancel: threading.Event | None = None,
    bytecode: Path | None = None,
) -> proc.ProcResult:
    """Run one configured command in ``root`` the way the tests run: import roots first, scrubbed, isolated."""
    argv = split_command(gate.command, f"gates.commands[{gate.name}].command")
    return proc.run(
        argv,
        cwd=root,
        timeout=gate.timeout,
        env_extra=import_env(root, bytecode),
        scrub=settings.scrub_env,
        cancel=cancel,
        **proc.jail_options(settings, bytecode),
    )


def _findings(root: Path, result: proc.ProcResult, gate: CommandGate) -> tuple[Finding, ...]:
    found = []
    for line in (result.stdout + "\n" + result.stderr).splitlines():
        match = _LOCATED.match(line.strip())
        if match and (root / match["path"]).is_file():
            found.append(Finding(match["path"], int(match["line"]), gate.name, match["message"].strip()))
            if len(found) >= MAX_FINDINGS:
                break
    if not found:
        tail = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:] or [result.describe()]
        found.append(Finding("", 0, gate.name, tail[0][:500]))
    return tuple(found)


def run(
    root: Path,
    gate: CommandGate,
    settings: GateSettings,
    baseline_status: Callable[[], int],
    bytecode: Path | None = None,
) -> GateResult:
    """Run ``gate`` on the patched worktree; ``baseline_status`` gives its exit status on the head (may block)."""
    start = time.monotonic()
    result = execute(root, gate, settings, bytecode=bytecode)
    isolation = f" ({result.jail_note})" if result.jail_note else ""
    if result.timed_out:
        summary = f"{result.describe()} (timeout {gate.timeout:g}s){isolation}"
        return GateResult(gate.name, "fail", summary, (), time.monotonic() - start)
    if result.returncode == 0:
        return GateResult(gate.name, "pass", result.describe() + isolation, (), time.monotonic() - start)
    before = baseline_status()
    if before < 0:
        summary = f"the command timed out or was killed on the head without the patch; raise its timeout{isolation}"
        return GateResult(gate.name, "error", summary, (), time.monotonic() - start)
    if before != 0:
        summary = f"{result.describe()}; it already failed without the patch (exit {before}), not blamed{isolation}"
        return GateResult(gate.name, "pass", summary, (), time.monotonic() - start)
    summary = f"{result.describe()}; it passed without the patch{isolation}"
    return GateResult(gate.name, "fail", summary, _findings(root, result, gate), time.monotonic() - start)
