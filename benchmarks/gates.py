"""The gate engine's benchmark: ``run_gates`` against running ruff and pytest by hand, side by side in one run.

    python -m benchmarks.gates [--rounds N] [--only generated|self] [--json]

For each subject (a generated repository of realistic size, and a clone of this project at its HEAD) it measures,
interleaved within each round (the order rotates every round, so drift in the machine's load hits all three alike):

- ``raw``: ``ruff check .`` then ``python -m pytest -q -p no:cacheprovider`` in a checkout of the head with the patch
  applied, prepared (and warmed once) outside the timing, with bytecode written as in a developer's shell: what a
  developer pays to check the patch by hand;
- ``cached``: ``run_gates`` on that patch, with the head's baseline already in ``cache_dir`` (warmed outside the
  timing);
- ``first``: ``run_gates`` with a new, empty ``cache_dir``: the first patch on a new head, baseline included (the
  gates' bytecode cache, kept per repository, is warm: the bot has gated this repository before);
- ``cold`` (with ``--cold``, no target): as ``first``, and with an empty bytecode cache too: a repository never seen;
- ``unjailed``: as ``cached``, with the jail off (``GUARDRAIL_JAIL=off``): the jail's cost is the median of each
  round's cached/unjailed ratio (target 1.05).

It prints the medians and the median of each round's ratio (cached/raw and first/raw) against the targets
(1.15 and 2.3), and exits 1 when a target is missed. Every measured gate run must accept the patch; a rejection stops
the benchmark (measuring a rejected patch would say nothing). Both sides use this interpreter's environment: its
``bin`` directory goes first on PATH, so ``python`` in a tests command is ``sys.executable``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.gen_repo import RepoSpec, generate
from bot.types import GateSettings, Verdict

TARGETS: dict[str, float] = {"cached": 1.15, "first": 2.3}
KINDS = ("raw", "cached", "unjailed", "first")
UNJAILED = "unjailed"
JAIL_TARGET = 1.05  # cached (jailed) over unjailed, same round
COLD = "cold"
SELF_TESTS = 'python -m pytest -q -m "not slow and not model"'
SELF_MODULE = "bot/types.py"
SELF_MARK = "_GATE_BENCHMARK = True  # added by the gate benchmark's patch\n"
PYCACHE_ENV = "GUARDRAIL_PYCACHE_DIR"  # where checks/pycache.py keeps compiled bytecode between gate runs
PROJECT = Path(__file__).resolve().parent.parent

RunGates = Callable[..., Verdict]


class BenchmarkError(RuntimeError):
    """The benchmark cannot measure anything meaningful (a rejected patch, a raw run that failed)."""


@dataclass(frozen=True)
class Subject:
    """One repository under benchmark: the commits, the patch, the gate settings and the raw checkout."""

    name: str
    description: str
    repo: Path
    base: str
    head: str
    patch: str
    settings: GateSettings
    checkout: Path  # head with the patch applied, for the raw measurement
    raw_pytest_args: tuple[str, ...]
    raw_must_pass: bool = True


@dataclass(frozen=True)
class Row:
    """The figures of one subject: median seconds per kind, and median per-round ratios to raw."""

    name: str
    description: str
    tests_command: str
    rounds: int
    medians: dict[str, float]
    ratios: dict[str, float]  # kind -> median over rounds of (kind / raw of the same round)
    samples: dict[str, list[float]] = field(default_factory=dict)
    gate_seconds: dict[str, dict[str, float]] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # median CPU seconds (this process and its children)
    jail_cost: float | None = None  # median over rounds of cached / unjailed (the jail's cost on the cached path)

    def ok(self, kind: str) -> bool | None:
        """Whether ``kind`` meets its target; None for a kind without one."""
        target = TARGETS.get(kind)
        return None if target is None else self.ratios[kind] <= target

    @property
    def passed(self) -> bool:
        jail_ok = self.jail_cost is None or self.jail_cost <= JAIL_TARGET
        return jail_ok and all(self.ok(kind) is not False for kind in self.ratios)


def summarize(
    subject: Subject,
    samples: dict[str, list[float]],
    gate_seconds: dict[str, dict[str, float]],
    cpu: dict[str, list[float]] | None = None,
) -> Row:
    """Medians of each kind, and the median over rounds of each kind's time over raw's time in the same round."""
    rounds = len(samples.get("raw", []))
    if rounds == 0 or any(len(values) != rounds for values in samples.values()):
        raise ValueError(f"need the same number (>0) of samples of raw and every other kind, got {samples}")
    ratios = {
        kind: statistics.median(measured / raw for measured, raw in zip(values, samples["raw"], strict=True))
        for kind, values in samples.items()
        if kind != "raw"
    }
    jail_cost = None
    if "cached" in samples and UNJAILED in samples:
        pairs = zip(samples["cached"], samples[UNJAILED], strict=True)
        jail_cost = statistics.median(jailed / unjailed for jailed, unjailed in pairs)
    return Row(
        name=subject.name,
        description=subject.description,
        tests_command=subject.settings.tests_command,
        rounds=rounds,
        medians={kind: statistics.median(values) for kind, values in samples.items()},
        ratios=ratios,
        samples=samples,
        gate_seconds=gate_seconds,
        cpu={kind: statistics.median(values) for kind, values in (cpu or {}).items() if values},
        jail_cost=jail_cost,
    )


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def developer_env() -> dict[str, str]:
    """This environment as a developer's shell has it: Python writes and reuses bytecode (``__pycache__``).

    A sandbox or CI may export PYTHONDONTWRITEBYTECODE; kept, it would make every raw run recompile the whole
    project, which no developer's checkout does, and flatter the gates (which keep their own bytecode cache).
    """
    env = dict(os.environ)
    for name in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX"):
        env.pop(name, None)
    return env


def _git(cwd: Path, *args: str) -> str:
    done = _run(["git", "-c", "commit.gpgsign=false", *args], cwd)
    if done.returncode != 0:
        raise BenchmarkError(f"git {' '.join(args)} failed in {cwd}: {done.stderr.strip()}")
    return done.stdout


def _ruff() -> str:
    beside = Path(sys.executable).parent / "ruff"
    return str(beside) if beside.exists() else "ruff"


def measure_raw(subject: Subject) -> float:
    """Seconds for ``ruff check .`` then pytest in the prepared checkout (both always run, like by hand)."""
    start = time.perf_counter()
    env = developer_env()
    ruff = _run([_ruff(), "check", "."], subject.checkout, env)
    tests = _run([sys.executable, "-m", "pytest", *subject.raw_pytest_args], subject.checkout, env)
    seconds = time.perf_counter() - start
    if subject.raw_must_pass and (ruff.returncode != 0 or tests.returncode != 0):
        raise BenchmarkError(
            f"{subject.name}: the raw run failed in {subject.checkout} (ruff {ruff.returncode}, pytest "
            f"{tests.returncode}):\n{ruff.stdout[-2000:]}{tests.stdout[-4000:]}{tests.stderr[-2000:]}"
        )
    return seconds


def measure_gates(subject: Subject, cache_dir: Path, run_gates: RunGates) -> tuple[float, Verdict]:
    """Seconds for one ``run_gates`` call; BenchmarkError unless the verdict is ``accept``."""
    start = time.perf_counter()
    verdict = run_gates(subject.repo, subject.base, subject.head, subject.patch, subject.settings, cache_dir=cache_dir)
    seconds = time.perf_counter() - start
    if verdict.verdict != "accept":
        detail = "\n".join(
            f"  {gate.name}: {gate.status}: {gate.summary}"
            + "".join(f"\n    {f.path}:{f.line}: {f.rule}: {f.message}" for f in gate.findings[:10])
            for gate in verdict.gates
        )
        raise BenchmarkError(
            f"{subject.name}: the gates rejected the benchmark's patch ({verdict.reason}); a benchmark of a "
            f"rejected patch measures nothing:\n{detail}"
        )
    return seconds, verdict


def cpu_seconds() -> float:
    """CPU time so far of this process (all threads) and of its waited-for children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _add_gate_seconds(into: dict[str, list[float]], verdict: Verdict) -> None:
    for gate in verdict.gates:
        into.setdefault(gate.name, []).append(gate.seconds)


def _measure_one(subject: Subject, kind: str, cache: Path, run_gates: RunGates) -> tuple[float, Verdict | None]:
    if kind == "raw":
        return measure_raw(subject), None
    if kind == UNJAILED:
        os.environ["GUARDRAIL_JAIL"] = "off"
        try:
            return measure_gates(subject, cache, run_gates)
        finally:
            del os.environ["GUARDRAIL_JAIL"]
    if kind != COLD:
        return measure_gates(subject, cache, run_gates)
    warm = os.environ.get(PYCACHE_ENV)
    os.environ[PYCACHE_ENV] = str(cache / "pycache")  # a bytecode cache as empty as the baseline cache
    try:
        return measure_gates(subject, cache, run_gates)
    finally:
        if warm is not None:
            os.environ[PYCACHE_ENV] = warm


def measure(
    subject: Subject, kinds: tuple[str, ...], rounds: int, work: Path, run_gates: RunGates, log: Callable[[str], None]
) -> Row:
    """Warm up outside the timing, then ``rounds`` rounds of every kind, in an order that rotates every round."""
    warm_cache = work / f"{subject.name}-cache-warm"
    log(f"{subject.name}: warming up (raw checkout, baseline cache)")
    measure_raw(subject)
    measure_gates(subject, warm_cache, run_gates)
    samples: dict[str, list[float]] = {kind: [] for kind in kinds}
    cpu: dict[str, list[float]] = {kind: [] for kind in kinds}
    per_gate: dict[str, dict[str, list[float]]] = {kind: {} for kind in kinds if kind != "raw"}
    for index in range(rounds):
        shift = index % len(kinds)
        for kind in kinds[shift:] + kinds[:shift]:
            cache = warm_cache if kind in ("cached", UNJAILED) else work / f"{subject.name}-cache-{kind}-{index}"
            used = cpu_seconds()
            seconds, verdict = _measure_one(subject, kind, cache, run_gates)
            cpu[kind].append(cpu_seconds() - used)
            samples[kind].append(seconds)
            if verdict is not None:
                _add_gate_seconds(per_gate[kind], verdict)
            log(f"{subject.name}: round {index + 1}/{rounds} {kind:6} {seconds:6.2f}s")
    gate_seconds = {
        kind: {name: statistics.median(values) for name, values in gates.items()} for kind, gates in per_gate.items()
    }
    return summarize(subject, samples, gate_seconds, cpu)


def prepare_generated(work: Path, spec: RepoSpec) -> Subject:
    """Generate the repository and a checkout of its head with the patch applied."""
    repo = generate(work / "ledger", spec)
    checkout = work / "ledger-raw"
    _git(repo.path, "worktree", "add", "--detach", "--quiet", str(checkout), repo.head)
    done = subprocess.run(["git", "apply"], cwd=checkout, input=repo.patch, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchmarkError(f"the generated patch does not apply in {checkout}: {done.stderr.strip()}")
    description = f"generated: {repo.modules} modules, {repo.tests} tests in {repo.test_files} files"
    return Subject(
        name="generated",
        description=description,
        repo=repo.path,
        base=repo.base,
        head=repo.head,
        patch=repo.patch,
        settings=GateSettings(),
        checkout=checkout,
        raw_pytest_args=("-q", "-p", "no:cacheprovider"),
    )


def docstring_patch(text: str, note: str) -> str:
    """``text`` with ``note`` added as a last paragraph of its module docstring (a harmless change)."""
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith('"""'):
            continue
        if stripped.endswith('"""') and len(stripped) > 6:  # a one-line docstring: make it two paragraphs
            lines[index] = line.rstrip()[:-3] + f"\n\n{note}\n" + '"""\n'
            return "".join(lines)
        for end in range(index + 1, len(lines)):
            if lines[end].strip().endswith('"""'):
                lines.insert(end, f"\n{note}\n")
                return "".join(lines)
    raise BenchmarkError("no module docstring found to patch")


def self_patch(text: str) -> str:
    """``text`` with a sentence added to its module docstring and a private constant at its end: a harmless change
    with an effect (a docstring alone is rejected by the ``effect`` gate, which would leave nothing to measure)."""
    return docstring_patch(text, "(Touched by the gate benchmark.)").rstrip("\n") + "\n\n" + SELF_MARK


def raw_pytest_args(tests_command: str) -> tuple[str, ...]:
    """The pytest arguments of a ``python -m pytest ...`` command, plus ``-p no:cacheprovider`` (as the gates add)."""
    argv = shlex.split(tests_command)
    if argv[:3] != ["python", "-m", "pytest"]:
        raise BenchmarkError(f"{tests_command!r}: the benchmark compares `python -m pytest ...` commands only")
    return (*argv[3:], "-p", "no:cacheprovider")


def prepare_self(work: Path, source: Path, module: str, tests_command: str) -> Subject:
    """Clone this project at its HEAD; the patch is a docstring change to ``module``; base is HEAD~1."""
    repo = work / "guardrail"
    _git(work, "clone", "--quiet", str(source), str(repo))
    head = _git(repo, "rev-parse", "HEAD").strip()
    base = _git(repo, "rev-parse", "HEAD~1").strip()
    checkout = work / "guardrail-raw"
    _git(repo, "worktree", "add", "--detach", "--quiet", str(checkout), head)
    target = checkout / module
    target.write_text(self_patch(target.read_text(encoding="utf-8")))
    patch = _git(checkout, "diff", "--no-color", "--no-ext-diff")
    sha = _git(repo, "log", "-1", "--format=%h %s").strip()
    return Subject(
        name="self",
        description=f"this project at {sha[:60]}",
        repo=repo,
        base=base,
        head=head,
        patch=patch,
        settings=GateSettings(tests_command=tests_command),
        checkout=checkout,
        raw_pytest_args=raw_pytest_args(tests_command),
        raw_must_pass=False,
    )


def render(rows: list[Row]) -> str:
    """The table: medians, ratios with PASS/FAIL, the tests command, and where the gates spent their time."""
    kinds = list(dict.fromkeys(kind for row in rows for kind in row.medians))
    ratios = [kind for kind in kinds if kind != "raw"]
    out = [f"{'subject':10}" + "".join(f"{kind:>8}" for kind in kinds) + "".join(f"{k + '/raw':>16}" for k in ratios)]
    for row in rows:
        line = f"{row.name:10}" + "".join(f"{row.medians[kind]:7.2f}s" for kind in kinds)
        for kind in ratios:
            verdict = {True: "PASS", False: "FAIL", None: "info"}[row.ok(kind)]
            line += f"{row.ratios[kind]:11.2f} {verdict}"
        out.append(line)
    for row in rows:
        if row.jail_cost is not None:
            verdict = "PASS" if row.jail_cost <= JAIL_TARGET else "FAIL"
            out.append(f"{row.name:10} jail cost on the cached path (cached/unjailed): {row.jail_cost:.3f} {verdict}")
    targets = ", ".join(f"{kind}/raw <= {target}" for kind, target in TARGETS.items())
    targets += f", cached/unjailed <= {JAIL_TARGET}"
    out.append(f"targets: {targets} (median over rounds of the ratio measured in the same round)")
    for row in rows:
        out.append(f"\n{row.name}: {row.description}; {row.rounds} rounds; tests command: {row.tests_command}")
        if row.cpu:
            used = ", ".join(f"{kind} {seconds:.2f}s" for kind, seconds in row.cpu.items())
            out.append(f"  CPU time (median; less sensitive to other load; first counts both test runs): {used}")
        for kind, gates in row.gate_seconds.items():
            spent = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in gates.items())
            out.append(f"  {kind} gates (median): {spent}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gates", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per subject (default 3)")
    parser.add_argument("--only", choices=("generated", "self"), help="measure one subject only")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--modules", type=int, default=RepoSpec.modules, help="size of the generated repository")
    parser.add_argument("--self-module", default=SELF_MODULE, help="the module the self patch touches")
    parser.add_argument("--self-tests", default=SELF_TESTS, help=f"tests command for self (default: {SELF_TESTS})")
    parser.add_argument("--cold", action="store_true", help="also measure a first run with no bytecode cache")
    args = parser.parse_args(argv)
    from checks.engine import run_gates  # late: the benchmark's helpers are importable without the engine

    # "python" in a tests command must be this interpreter, for the gates as for the raw run.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    log = (lambda line: print(line, file=sys.stderr, flush=True)) if args.json else print
    rows: list[Row] = []
    kinds = (*KINDS, COLD) if args.cold else KINDS
    try:
        with tempfile.TemporaryDirectory(prefix="guardrail-bench-") as tmp:
            work = Path(tmp)
            # The gates keep compiled bytecode between runs (checks/pycache.py); keep it here, not in the user's cache.
            os.environ[PYCACHE_ENV] = str(work / "pycache")
            log(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
            if args.only in (None, "generated"):
                subject = prepare_generated(work, RepoSpec(modules=args.modules))
                rows.append(measure(subject, kinds, args.rounds, work, run_gates, log))
            if args.only in (None, "self"):
                subject = prepare_self(work, PROJECT, args.self_module, args.self_tests)
                rows.append(measure(subject, kinds, args.rounds, work, run_gates, log))
            log(f"load average after: {os.getloadavg()[0]:.2f}")
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2
    print(json.dumps([asdict(row) for row in rows], indent=2) if args.json else "\n" + render(rows))
    return 0 if all(row.passed for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
