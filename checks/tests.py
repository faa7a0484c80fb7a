"""Gate 4, ``tests``: the repository's tests pass on the patched head wherever they passed without the patch.

The test command (default ``python -m pytest``) runs in the worktree's root. Per-test results come from JUnit XML:
for a pytest command Guardrail adds ``--junitxml=<file> -o junit_family=xunit1 -p no:cacheprovider``; any other
runner must write JUnit XML to the path in ``$GUARDRAIL_JUNIT_XML``. The worktree's import roots (its root and
``src/``) come first on ``PYTHONPATH``, so the tests exercise the worktree's code even when the project is also
installed in editable mode from another checkout. Bytecode goes to a cache outside the worktree (``checks.pycache``).

Rejected: the run timed out, no test ran, collection broke, or a test that passed in the baseline now fails, errors,
is skipped or is gone. Tests that already failed in the baseline are not blamed.
"""

from __future__ import annotations

import itertools
import os
import shlex
import shutil
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.errors import GateError
from bot.types import Finding, GateResult, GateSettings
from checks import proc, pycache
from checks.baseline import Baseline

NAME = "tests"
JUNIT_ENV = "GUARDRAIL_JUNIT_XML"
BAD = ("failed", "error")
_PYTEST_EXIT = {2: "test collection broke (or the run was interrupted)", 3: "pytest hit an internal error",
                4: "pytest was called wrongly (usage error)"}  # fmt: skip


@dataclass(frozen=True)
class CaseResult:
    id: str  # "classname::name"
    outcome: str  # passed | failed | error | skipped
    path: str
    line: int
    message: str


@dataclass(frozen=True)
class SuiteRun:
    result: proc.ProcResult
    cases: tuple[CaseResult, ...]
    junit_problem: str | None  # why the JUnit XML could not be read, if it could not
    pytest: bool

    def outcomes(self) -> dict[str, str]:
        return {case.id: case.outcome for case in self.cases}


def import_env(root: Path, bytecode: Path | None = None) -> dict[str, str]:
    """Environment for PR code run in ``root``: its import roots first on PYTHONPATH; bytecode cached under
    ``bytecode`` (outside the worktree, see :mod:`checks.pycache`), or not written at all."""
    roots = [str(root)] + ([str(root / "src")] if (root / "src").is_dir() else [])
    inherited = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": os.pathsep.join([*roots, *([inherited] if inherited else [])]), **pycache.env(bytecode)}


def split_command(command: str, key: str) -> list[str]:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise GateError(f"{key}: cannot split {command!r} like a shell would ({exc}); fix the quoting") from exc
    if not argv:
        raise GateError(f"{key} is empty; give the command that runs the tests")
    return argv


def is_pytest(argv: list[str]) -> bool:
    names = [Path(arg).name for arg in argv]
    return any(n in ("pytest", "py.test") for n in names) or ("-m", "pytest") in itertools.pairwise(argv)


def _case(element: ET.Element) -> CaseResult:
    classname, name = element.get("classname", ""), element.get("name", "")
    outcome, message = "passed", ""
    for child in element:
        if child.tag in ("failure", "error", "skipped"):
            outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
            text = child.get("message") or child.text or ""
            message = text.strip().splitlines()[0] if text.strip() else child.tag
            if outcome != "skipped":
                break
    path = element.get("file") or (classname.replace(".", "/") + ".py" if classname else name.replace(".", "/") + ".py")
    line_attr = element.get("line")
    line = int(line_attr) + 1 if line_attr and line_attr.isdigit() else 0  # xunit1 lines are 0-based
    return CaseResult(f"{classname}::{name}", outcome, path, line, message)


def read_junit(path: Path) -> tuple[tuple[CaseResult, ...], str | None]:
    """The test cases of a JUnit XML file, or a reason it cannot be read."""
    try:
        tree = ET.parse(path)
    except FileNotFoundError:
        return (), "the test command wrote no JUnit XML"
    except (ET.ParseError, OSError) as exc:
        return (), f"the JUnit XML is unreadable ({exc})"
    return tuple(_case(element) for element in tree.getroot().iter("testcase")), None


def execute(
    root: Path, settings: GateSettings, cancel: threading.Event | None = None, bytecode: Path | None = None
) -> SuiteRun:
    """Run the test command in ``root`` and read its per-test results."""
    argv = split_command(settings.tests_command, "gates.tests.command")
    scratch = Path(tempfile.mkdtemp(prefix="guardrail-junit-"))
    junit = scratch / "junit.xml"
    try:
        pytest = is_pytest(argv)
        if pytest:
            argv += [f"--junitxml={junit}", "-o", "junit_family=xunit1", "-p", "no:cacheprovider"]
        env = {**import_env(root, bytecode), JUNIT_ENV: str(junit)}
        result = proc.run(
            argv, cwd=root, timeout=settings.tests_timeout, env_extra=env, scrub=settings.scrub_env, cancel=cancel
        )
        cases, problem = read_junit(junit)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return SuiteRun(result, cases, problem, pytest)


def _last_words(result: proc.ProcResult) -> str:
    lines = (result.stderr.strip() or result.stdout.strip()).splitlines()
    return f" ({lines[-1].strip()[:300]})" if lines else ""


def _could_not_run(run: SuiteRun) -> str | None:
    """Why the test command could not run at all (a gate error, not a verdict on the patch), if it could not."""
    if run.result.returncode in (126, 127) and not run.cases:
        return f"the test command could not be started{_last_words(run.result)}; fix gates.tests.command"
    if run.junit_problem and not run.result.timed_out and not (run.pytest and run.result.returncode in (2, 3, 4, 5)):
        return f"{run.junit_problem}; {run.result.describe()}{_last_words(run.result)}"
    return None


def _broken(run: SuiteRun, timeout: float) -> str | None:
    """Why the patched run cannot be judged test by test, if it cannot."""
    if run.result.timed_out:
        return f"the tests timed out after {timeout:g}s (gates.tests.timeout) and were killed"
    if run.pytest and run.result.returncode == 5:
        return "no test ran (pytest collected nothing)"
    if run.pytest and run.result.returncode in _PYTEST_EXIT:
        return f"{_PYTEST_EXIT[run.result.returncode]}: {run.result.describe()}{_last_words(run.result)}"
    if not run.cases:
        return "no test ran"
    if not run.pytest and run.result.returncode != 0 and not any(c.outcome in BAD for c in run.cases):
        return f"the test command failed but no test did: {run.result.describe()}"
    return None


def _regressions(run: SuiteRun, before: Mapping[str, str]) -> list[Finding]:
    found = []
    seen = run.outcomes()
    for case in run.cases:
        if case.outcome in BAD and before.get(case.id) not in BAD:
            was = before.get(case.id, "new")
            found.append(Finding(case.path, case.line, "test", f"{case.id}: {case.message} (was {was})"))
    for test_id, outcome in before.items():
        if outcome == "passed" and seen.get(test_id, "missing") in ("skipped", "missing"):
            path = test_id.split("::")[0].replace(".", "/") + ".py"
            found.append(
                Finding(path, 0, "test", f"{test_id}: passed without the patch, now {seen.get(test_id, 'gone')}")
            )
    return found


def _baseline_problem(baseline: Baseline) -> str | None:
    if baseline.returncode is None:
        return "the baseline has no test results"
    if baseline.returncode < 0:
        return "the baseline run (the head without the patch) timed out or was killed; raise gates.tests.timeout"
    return None


def run(
    root: Path, settings: GateSettings, baseline: Callable[[], Baseline], bytecode: Path | None = None
) -> GateResult:
    """Run the tests on the patched worktree ``root`` and compare with the baseline (waited for if still running)."""
    start = time.monotonic()
    patched = execute(root, settings, bytecode=bytecode)
    isolation = "" if patched.result.network_isolated else " (network NOT isolated: unshare unavailable here)"
    if why := _could_not_run(patched):
        return GateResult(NAME, "error", why, (), time.monotonic() - start)
    if why := _broken(patched, settings.tests_timeout):
        findings = tuple(
            Finding(c.path, c.line, "test", f"{c.id}: {c.message}") for c in patched.cases if c.outcome in BAD
        )
        return GateResult(NAME, "fail", why + isolation, findings, time.monotonic() - start)
    base = baseline()
    if problem := _baseline_problem(base):
        return GateResult(NAME, "error", problem, (), time.monotonic() - start)
    origin = "cached" if base.cached else f"computed in {base.seconds:.1f}s"
    regressions = _regressions(patched, base.outcomes)
    counts = {o: sum(1 for c in patched.cases if c.outcome == o) for o in ("passed", "failed", "error", "skipped")}
    tally = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
    if regressions:
        summary = f"{len(regressions)} test(s) broken by the patch ({tally}; baseline {origin}){isolation}"
        return GateResult(NAME, "fail", summary, tuple(regressions), time.monotonic() - start)
    old = sum(1 for c in patched.cases if c.outcome in BAD)
    blame = f", {old} already failing without the patch (not blamed)" if old else ""
    summary = f"{tally}{blame}; baseline {origin}{isolation}"
    return GateResult(NAME, "pass", summary, (), time.monotonic() - start)
