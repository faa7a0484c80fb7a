"""The gate engine: apply a patch to a throwaway worktree of the PR head and run the gates on it, cheapest first.

    apply -> paths -> effect -> ruff -> tests -> each configured command

The first gate that fails (or errors: a gate that could not run is not a pass) stops the run; the later gates are
reported as ``skipped``. The baseline (the head without the patch) is read from the cache or, for a new head,
computed in a second worktree *while* ruff and the patched test run go on, so a first patch costs about one test
run, not two, on a machine with two cores.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from bot.errors import GateError
from bot.types import CommandGate, Finding, GateResult, GateSettings, Verdict
from checks import apply, commands, effect, jail, paths, proc, pycache, ruff, tests, worktree
from checks import redact as redaction
from checks.baseline import Baseline, BaselineCache, default_cache_dir
from checks.patch import PatchRejected
from checks.patch import parse as parse_patch
from checks.prepare import HeadSetup, Prepared, SetupCache, needs_own_setup

Step = tuple[str, Callable[[], GateResult]]


def redact(results: list[GateResult], secrets: set[str]) -> list[GateResult]:
    """Replace every secret value, also base64/hex/reversed/percent-encoded (see :mod:`checks.redact`), in what the
    gates report: PR code may have found one and put it in a test's failure message, which would then be posted."""
    compiled = redaction.pattern(secrets)
    if compiled is None:
        return results

    def clean(text: str) -> str:
        return redaction.redact(text, compiled)

    return [
        replace(
            result,
            summary=clean(result.summary),
            findings=tuple(replace(f, path=clean(f.path), message=clean(f.message)) for f in result.findings),
        )
        for result in results
    ]


class BaselineJob:
    """The baseline for one head: from the cache, or computed in the background once :meth:`start` is called."""

    def __init__(
        self, repo: Path, head: str, settings: GateSettings, cache: BaselineCache, bytecode: Path | None = None
    ) -> None:
        self.repo, self.head, self.settings, self.cache, self.bytecode = repo, head, settings, cache, bytecode
        self.cancel = threading.Event()
        self._blobs: dict[str, str] | None = None
        self._cached = cache.load(head, settings.tests_command)
        self._pool: ThreadPoolExecutor | None = None
        self._future: Future[Baseline] | None = None
        self._setup_done = threading.Event()  # set once the baseline's worktree has been set up (and cached)
        setup_cache = SetupCache(cache.directory)
        self.setup = HeadSetup(head, settings, setup_cache, lambda: set(self.head_blobs()))

    def head_blobs(self) -> dict[str, str]:
        """The head's files and blob shas; read once, before :meth:`start`."""
        if self._blobs is None:
            self._blobs = worktree.blob_ids(self.repo, self.head)
        return self._blobs

    def prepare(self, root: Path, touched: tuple[str, ...] = ()) -> None:
        """Compile the worktree's Python files (and rewrite its test modules) into the bytecode cache, before PR code
        runs there (:mod:`checks.pycache`)."""
        if self.bytecode is None:
            return
        python = pycache.interpreter(tests.split_command(self.settings.tests_command, "gates.tests.command"))
        if python is not None:
            pycache.compile_tree(root, [*self.head_blobs(), *touched], self.bytecode, python)

    def start(self) -> Future[Baseline] | None:
        """Begin computing the tests' baseline in another thread, unless it is cached."""
        if self._cached is None and self._future is None:
            self.head_blobs()  # read here, not in the thread
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guardrail-baseline")
            self._future = self._pool.submit(self._compute_tests)
        return self._future

    def _compute_tests(self) -> Baseline:
        start = time.monotonic()
        with worktree.worktree(self.repo, self.head) as root:
            self.prepare(root)
            try:
                prepared = self.setup.prepare_head(root, self.cancel)
            finally:
                self._setup_done.set()
            if prepared.problem:
                return self._unprepared(prepared.problem, time.monotonic() - start)
            run = tests.execute(root, self.settings, cancel=self.cancel, bytecode=self.bytecode)
        result = run.result
        baseline = Baseline(
            head=self.head,
            tests_command=self.settings.tests_command,
            returncode=-9 if result.timed_out else result.returncode,
            outcomes=run.outcomes(),
            seconds=time.monotonic() - start,
            problem=None if result.timed_out else tests.unjudgeable(run, self.settings.tests_timeout),
        )
        if not result.timed_out and not self.cancel.is_set() and prepared.complete:
            self.cache.store(baseline)  # not when a default setup step failed: the next run tries again
        return baseline

    def _unprepared(self, problem: str, seconds: float) -> Baseline:
        baseline = Baseline(self.head, self.settings.tests_command, returncode=1, problem=problem, seconds=seconds)
        if not self.cancel.is_set():
            self.cache.store(baseline)
        return baseline

    def prepare_patched(self, root: Path, touched: tuple[str, ...]) -> Prepared:
        """Set up the patched worktree like the head's (waiting for the baseline's setup when it is under way)."""
        if self._future is not None and not needs_own_setup(touched):
            self._setup_done.wait()
        return self.setup.prepare_patched(root, touched, lambda: worktree.worktree(self.repo, self.head))

    def tests(self) -> Baseline:
        """The tests' baseline; waits for the background run when there is one."""
        future = self.start()
        if future is None:
            assert self._cached is not None  # start() runs nothing only when the baseline is cached
            return self._cached
        return future.result()

    def command_status(self, gate: CommandGate) -> int:
        """The command's exit status on the head without the patch (-9 if it timed out); computed on demand."""
        known = self.cache.load(self.head, self.settings.tests_command)
        if known is not None and gate.command in known.commands:
            return known.commands[gate.command]
        with worktree.worktree(self.repo, self.head) as root:
            self.prepare(root)
            self.setup.prepare_head(root, self.cancel)
            result = commands.execute(root, gate, self.settings, cancel=self.cancel, bytecode=self.bytecode)
        status = -9 if result.timed_out else result.returncode
        if not result.timed_out:
            self.cache.store(Baseline(self.head, self.settings.tests_command, commands={gate.command: status}))
        return status

    def close(self, *, abandon: bool) -> None:
        """Wait for the background run (so its result is cached for the next patch), or kill it when abandoning."""
        if abandon:
            self.cancel.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def _guarded(name: str, gate: Callable[[], GateResult]) -> GateResult:
    start = time.monotonic()
    try:
        return gate()
    except GateError as exc:  # the gate could not run: not a pass
        return GateResult(name, "error", str(exc), (), time.monotonic() - start)


def _run_steps(steps: list[Step], results: list[GateResult]) -> bool:
    """Run steps until one does not pass; True when all passed (or were switched off)."""
    for name, gate in steps:
        result = _guarded(name, gate)
        results.append(result)
        if result.status in ("fail", "error"):
            return False
    return True


def _gates(root: Path, patch: str, settings: GateSettings, job: BaselineJob) -> tuple[list[GateResult], str]:
    """The gates' results and the effective change (read back from the worktree right after applying)."""
    results: list[GateResult] = []
    holder: dict[str, apply.Applied] = {}
    effective: list[str] = []
    if escaping := _escaping_paths(patch, settings):
        results.append(GateResult(apply.NAME, "skipped", "not applied: the patch names paths outside the repository"))
        summary = f"{len(escaping)} path(s) outside the repository or inside .git/; the patch was not applied"
        results.append(GateResult(paths.NAME, "fail", summary, tuple(escaping)))
        return results, ""

    def do_apply() -> GateResult:
        result, applied = apply.run(root, patch, settings)
        if applied is not None:
            holder["applied"] = applied
            created = [f.new_path for f in applied.patch.files if f.old_path is None and f.new_path is not None]
            # before any PR code runs: what the tree now holds is what the gates check and what may be posted
            effective.append(worktree.effective_change(root, created).decode("utf-8", errors="surrogateescape"))
        return result

    if not _run_steps([(apply.NAME, do_apply)], results):
        return results, ""
    applied = holder["applied"]
    # Bytecode is placed while the cheap gates run (no PR code runs before the tests; compile_tree never follows a
    # link, so a bad patch the paths gate will reject is harmless to it); leaving this block waits for it.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="guardrail-bytecode") as pool:
        compiled = pool.submit(job.prepare, root, tuple(applied.patch.touched()))
        steps: list[Step] = [
            (paths.NAME, lambda: paths.run(root, applied, settings)),
            (effect.NAME, lambda: effect.run(root, applied, settings)),
        ]
        if not _run_steps(steps, results):
            return results, effective[0]
        job.start()  # the patch is sane: the baseline will be needed, start it while ruff and the tests run
        ruffed = _run_steps([(ruff.NAME, lambda: ruff.run(root, applied, settings))], results)
        compiled.result()
    if not ruffed:
        return results, effective[0]
    later: list[Step] = [(tests.NAME, lambda: _tests_step(root, applied, settings, job))]
    later += [_command_step(root, gate, settings, job) for gate in settings.commands]
    _run_steps(later, results)
    return results, effective[0]


def _tests_step(root: Path, applied: apply.Applied, settings: GateSettings, job: BaselineJob) -> GateResult:
    prepared = job.prepare_patched(root, tuple(applied.patch.touched()))
    result = tests.run(root, settings, job.tests, job.bytecode)
    note = prepared.problem or prepared.summary
    return replace(result, summary=f"{result.summary}; {note}") if note else result


def _escaping_paths(patch: str, settings: GateSettings) -> list[Finding]:
    try:
        parsed = parse_patch(patch, settings.max_patch_bytes)
    except PatchRejected:
        return []  # the apply gate reports what is wrong with it
    return paths.escaping(parsed)


def _command_step(root: Path, gate: CommandGate, settings: GateSettings, job: BaselineJob) -> Step:
    return gate.name, lambda: commands.run(root, gate, settings, lambda: job.command_status(gate), job.bytecode)


def gate_names(settings: GateSettings) -> list[str]:
    """Every gate in the order it runs."""
    return [apply.NAME, paths.NAME, effect.NAME, ruff.NAME, tests.NAME, *(g.name for g in settings.commands)]


def run_gates(
    repo: Path, base: str, head: str, patch: str | bytes, settings: GateSettings, *, cache_dir: Path | None = None
) -> Verdict:
    """Gate ``patch`` (a unified diff against ``head``) in a throwaway worktree of ``head``; the verdict and why.

    ``patch`` is text decoded with surrogateescape (or bytes): it reaches ``git apply`` as the bytes it was. The
    verdict's ``patch`` is the effective change, ``git diff`` of the head against the patched tree, which is what
    the gates checked and the only thing that may be posted.

    ``base`` is checked to name a commit (the config the caller passes in ``settings`` must come from it, never from
    the head). Baselines are cached under ``cache_dir`` (default: :func:`checks.baseline.default_cache_dir`).
    Raises ConfigError for an unknown revision or a path that is not a repository; a gate that cannot run is
    reported with status ``error`` and rejects the patch.
    """
    repo = Path(repo)
    if isinstance(patch, bytes):
        patch = patch.decode("utf-8", errors="surrogateescape")
    status = jail.probe()
    if not status.ok:  # fail closed: no PR code runs outside a working jail
        raise GateError(status.message)
    worktree.resolve(repo, base)
    head_sha = worktree.resolve(repo, head)
    cache = BaselineCache(cache_dir or default_cache_dir())
    job = BaselineJob(repo, head_sha, settings, cache, bytecode=pycache.pycache_dir())
    results: list[GateResult] = []
    effective = ""
    abandon = True
    try:
        with worktree.worktree(repo, head_sha) as root:
            results, effective = _gates(root, patch, settings, job)
        abandon = False
    except GateError as exc:
        if results or isinstance(exc, worktree.SlotError):
            raise
        results = [GateResult(apply.NAME, "error", f"could not prepare a worktree of the head: {exc}")]
        abandon = False
    finally:
        job.close(abandon=abandon)
    results = redact(results, proc.secret_values(settings.scrub_env))
    if jail.disabled():  # every summary says so
        results = [
            replace(r, summary=f"{r.summary} [{jail.OFF_NOTE}]")
            if r.name == tests.NAME and jail.OFF_NOTE not in r.summary
            else r
            for r in results
        ]
    failed = next((r for r in results if r.status in ("fail", "error")), None)
    ran = {r.name for r in results}
    for name in gate_names(settings):
        if name not in ran:
            why = f"not run: {failed.name} did not pass" if failed else "not run"
            results.append(GateResult(name, "skipped", why))
    return Verdict(
        accepted=failed is None, reason=failed.name if failed else None, gates=tuple(results), patch=effective
    )
