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
import re
import shlex
import shutil
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
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
        # Never through a link: the run wrote this folder, and a link would make Guardrail read a host file.
        with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as handle:
            tree = ET.parse(handle)
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
        # The results folder is outside the worktree, bound into this run's jail only, and read after every
        # process of the run is gone (proc.run returns only then).
        result = proc.run(
            argv,
            cwd=root,
            timeout=settings.tests_timeout,
            env_extra=env,
            scrub=settings.scrub_env,
            cancel=cancel,
            **proc.jail_options(settings, bytecode, writable=(scratch,)),
        )
        cases, problem = read_junit(junit)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return SuiteRun(result, cases, problem, pytest)


_BORING = re.compile(
    r"^(?:=+|-+|_+|rootdir:|platform |cachedir:|plugins:|configfile:|inifile:|testpaths:|collected |collecting )"
)
_EXCEPTION_LINE = re.compile(r"^E\s+((?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Warning)\b.*)$")
_USAGE_LINE = re.compile(r"^(?:ERROR: (?!usage:)(.+)|[^:]+: error: (.+))$")
_PLAIN_EXCEPTION = re.compile(r"^((?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Exit)\b(?::.*)?)$")
_INTERNAL_LINE = re.compile(r"^INTERNALERROR> (?:E\s+)?((?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception)\b.*)$")
PYTEST_EXIT = {
    1: "tests failed",
    2: "the run was interrupted (exit 2: collection errors, or Ctrl-C)",
    3: "pytest hit an internal error (exit 3)",
    4: "pytest was called wrongly (exit 4: usage error)",
    5: "no tests were collected (exit 5)",
}


def first_error(result: proc.ProcResult) -> str:
    """The runner's own words for what went wrong, for a maintainer: the first exception pytest shows
    (``ModuleNotFoundError: No module named 'pkg._version'``), else its usage error, else its internal error, else
    the first exception line of a plain traceback, else the last line it printed that is not a header (never the
    ``rootdir:`` line)."""
    lines = [line.rstrip() for line in (result.stdout + "\n" + result.stderr).splitlines()]
    for pattern in (_EXCEPTION_LINE, _USAGE_LINE, _INTERNAL_LINE, _PLAIN_EXCEPTION):
        for line in lines:
            if match := pattern.match(line):
                return next(group for group in match.groups() if group).strip()[:300]
    meaningful = [line.strip() for line in lines if line.strip() and not _BORING.match(line.strip())]
    return meaningful[-1][:300] if meaningful else "it printed nothing"


def unjudgeable(run: SuiteRun, timeout: float) -> str | None:
    """Why this run cannot be judged test by test (its exit status and its report disagree, or it did not run
    the tests), quoting the runner's own message; None when every test's outcome can be trusted."""
    result = run.result
    code = result.returncode
    if result.timed_out:
        return f"the tests timed out after {timeout:g}s (gates.tests.timeout) and were killed"
    if code < 0:
        return f"{result.describe()} (killed by signal {-code})"
    if run.pytest and code == 5:
        return f"{PYTEST_EXIT[code]}: check testpaths and gates.tests.command"
    if run.pytest and code in (2, 3, 4):
        return f"{PYTEST_EXIT[code]}: {first_error(result)}"
    if run.junit_problem:
        return f"{run.junit_problem}; {result.describe()}: {first_error(result)}"
    if not run.cases:
        return f"no test ran; {result.describe()}"
    failing = sum(1 for case in run.cases if case.outcome in BAD)
    if code != 0 and not failing:
        return (
            f"{result.describe()} but its report has no failing test (a plugin, a coverage threshold or a crash "
            f"failed the run): {first_error(result)}"
        )
    return None


def _could_not_run(run: SuiteRun) -> str | None:
    """Why the test command could not be started at all (a gate error, not a verdict on the patch), if it could not."""
    if run.result.returncode in (126, 127) and not run.cases:
        return f"the test command could not be started ({first_error(run.result)}); fix gates.tests.command"
    return None


def node_id(path: str, test_id: str) -> str:
    """pytest's node id (``tests/test_x.py::TestY::test_z``) from a JUnit-style id (``tests.test_x.TestY::test_z``)
    when the file is known; the JUnit id otherwise."""
    if "::" not in test_id:
        return path or test_id
    module = path.removesuffix(".py").replace("/", ".")
    if path.endswith(".py") and test_id.startswith(module) and test_id[len(module) : len(module) + 1] in (".", ":"):
        rest = test_id[len(module) :]
        return path + ("::" + rest[1:] if rest.startswith(".") else rest)
    return test_id


def _guess_path(test_id: str) -> str:
    return test_id.split("::")[0].replace(".", "/") + ".py"


def _regressions(run: SuiteRun, before: Mapping[str, str]) -> list[Finding]:
    found = []
    seen = run.outcomes()
    for case in run.cases:
        if case.outcome in BAD and before.get(case.id) not in BAD:
            was = before.get(case.id, "new")
            name = node_id(case.path, case.id)
            found.append(Finding(case.path, case.line, "test", f"{name}: {case.message} (was {was})"))
    for test_id, outcome in before.items():
        if outcome == "passed" and seen.get(test_id, "missing") in ("skipped", "missing"):
            path = _guess_path(test_id)
            now = seen.get(test_id, "gone")
            found.append(Finding(path, 0, "test", f"{node_id(path, test_id)}: passed without the patch, now {now}"))
    return found


def evidence(run: SuiteRun, before: Mapping[str, str]) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
    """(fixed, remaining): the head's failing tests that pass with the patch (FAIL_TO_PASS), and those that still
    fail (or are gone), each a Finding whose message starts with the pytest node id."""
    seen = {case.id: case for case in run.cases}
    fixed, remaining = [], []
    for test_id, outcome in before.items():
        if outcome not in BAD:
            continue
        case = seen.get(test_id)
        path, line = (case.path, case.line) if case else (_guess_path(test_id), 0)
        name = node_id(path, test_id)
        if case is not None and case.outcome == "passed":
            fixed.append(Finding(path, line, "test", f"{name}: {outcome} at the head, passes with the patch"))
        else:
            now = case.outcome if case else "gone"
            remaining.append(Finding(path, line, "test", f"{name}: {outcome} at the head, {now} with the patch"))
    return tuple(fixed), tuple(remaining)


def _skip_reasons(run: SuiteRun, limit: int = 2) -> str:
    reasons = Counter(case.message or "no reason given" for case in run.cases if case.outcome == "skipped")
    if not reasons:
        return ""
    shown = ", ".join(f"{reason[:120]!r} x{count}" for reason, count in reasons.most_common(limit))
    more = f" and {len(reasons) - limit} other reason(s)" if len(reasons) > limit else ""
    return f"; skipped because: {shown}{more}"


def head_problem(baseline: Baseline) -> str | None:
    """Why the head itself (without the patch) cannot be judged: then no patch can be, and it is not its fault."""
    fix = (
        "this is not the patch's fault: make the tests run in a fresh checkout of the head (set gates.setup to "
        "the command that prepares one, e.g. `pip install -e .`, or fix gates.tests.command); see docs/gates.md"
    )
    if baseline.returncode is None:
        return f"the head's tests have no results; {fix}"
    if baseline.returncode < 0:
        return "the head's tests (without the patch) timed out or were killed; raise gates.tests.timeout"
    if baseline.problem:
        return f"the head's tests do not run: {baseline.problem}; {fix}"
    return None


def run(
    root: Path, settings: GateSettings, baseline: Callable[[], Baseline], bytecode: Path | None = None
) -> GateResult:
    """Run the tests on the patched worktree ``root`` and compare with the baseline (waited for if still running).

    The head is judged first: when its own run cannot be judged, the gate is ``error`` (not the patch's fault)
    whatever the patched run did. Otherwise the patched run fails the gate when it cannot be judged (timeout, exit
    status and report disagree, collection or usage error) or when a test that passed at the head does not.
    The result's ``fixed``/``remaining`` list the head's failing tests that pass / still fail with the patch."""
    start = time.monotonic()
    patched = execute(root, settings, bytecode=bytecode)
    isolation = f" ({patched.result.jail_note})" if patched.result.jail_note else ""
    if why := _could_not_run(patched):
        return GateResult(NAME, "error", why, (), time.monotonic() - start)
    base = baseline()
    if problem := head_problem(base):
        return GateResult(NAME, "error", problem, (), time.monotonic() - start)
    if why := unjudgeable(patched, settings.tests_timeout):
        findings = tuple(
            Finding(c.path, c.line, "test", f"{node_id(c.path, c.id)}: {c.message}")
            for c in patched.cases
            if c.outcome in BAD
        )
        return GateResult(NAME, "fail", why + isolation, findings, time.monotonic() - start)
    origin = "cached" if base.cached else f"computed in {base.seconds:.1f}s"
    regressions = _regressions(patched, base.outcomes)
    fixed, remaining = evidence(patched, base.outcomes)
    counts = {o: sum(1 for c in patched.cases if c.outcome == o) for o in ("passed", "failed", "error", "skipped")}
    tally = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
    seconds = time.monotonic() - start
    if regressions:
        summary = f"{len(regressions)} test(s) broken by the patch ({tally}; baseline {origin}){isolation}"
        return GateResult(NAME, "fail", summary, tuple(regressions), seconds, fixed, remaining)
    done = f", fixes {len(fixed)} test(s) failing at the head" if fixed else ""
    blame = f", {len(remaining)} failing at the head still fail (not blamed)" if remaining else ""
    summary = f"{tally}{done}{blame}{_skip_reasons(patched)}; baseline {origin}{isolation}"
    return GateResult(NAME, "pass", summary, (), seconds, fixed, remaining)
