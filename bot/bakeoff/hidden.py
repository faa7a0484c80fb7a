"""The hidden checks: a task's FAIL_TO_PASS and PASS_TO_PASS tests, run on the PR head with a suggestion applied.

The hidden test files are copied into a throwaway worktree only for this run, after the patch is applied, so a
patch cannot see or overwrite them. The tests run through ``checks.tests.execute`` and so through
``checks/proc.py`` (timeout, process-group kill, scrubbed environment, the jail where it is built): a suggestion is
PR-like code and runs nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.bakeoff.tasks import Task
from bot.types import GateSettings, PullRequest
from checks import apply, tests, worktree

HIDDEN_TIMEOUT = 120.0


@dataclass(frozen=True)
class HiddenResult:
    """Outcome per node id (passed / failed / error / skipped / missing) and whether the task counts as solved."""

    passed: bool
    fail_to_pass: Mapping[str, str] = field(default_factory=dict)
    pass_to_pass: Mapping[str, str] = field(default_factory=dict)
    summary: str = ""

    @property
    def no_effect(self) -> bool:
        """No FAIL_TO_PASS test passes: the suggestion did nothing for the bug."""
        return not any(outcome == "passed" for outcome in self.fail_to_pass.values())


def junit_id(node_id: str) -> str:
    """The JUnit (xunit1) id ``checks.tests`` reads for a pytest node id: ``tests/test_x.py::A::t`` ->
    ``tests.test_x.A::t``."""
    path, _, rest = node_id.partition("::")
    module = path.removesuffix(".py").replace("/", ".")
    *classes, name = rest.split("::")
    return ".".join([module, *classes]) + "::" + name


def run(
    task: Task,
    pr: PullRequest,
    *,
    patch: str | None = None,
    files: Mapping[str, str] | None = None,
    timeout: float = HIDDEN_TIMEOUT,
) -> HiddenResult:
    """Apply ``patch`` (a unified diff against the head) or write ``files`` over the head, add the hidden tests,
    run FAIL_TO_PASS and PASS_TO_PASS. Solved when every one of them passes."""
    with worktree.worktree(pr.repo, pr.head_sha) as root:
        if patch and patch.strip():
            result, applied = apply.run(root, patch, GateSettings())
            if applied is None:
                return HiddenResult(False, summary=f"the patch does not apply: {result.summary}")
        for path, text in {**(files or {}), **task.hidden}.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        # Whole files, not node ids: pytest stops at a node id it cannot collect (a test module whose import fails),
        # and then every other check would look missing too.
        test_files = dict.fromkeys(node.partition("::")[0] for node in (*task.fail_to_pass, *task.pass_to_pass))
        command = "python -m pytest -q --continue-on-collection-errors " + " ".join(test_files)
        suite = tests.execute(root, GateSettings(tests_command=command, tests_timeout=timeout))
    outcomes = suite.outcomes()

    def outcome(node: str) -> str:
        """A node id's outcome; a parametrized test's id without brackets stands for all its cases."""
        wanted = junit_id(node)
        if wanted in outcomes:
            return outcomes[wanted]
        cases = [o for case, o in outcomes.items() if case.startswith(wanted + "[")]
        if not cases:
            return "missing"
        return next((o for o in cases if o != "passed"), "passed")

    f2p = {node: outcome(node) for node in task.fail_to_pass}
    p2p = {node: outcome(node) for node in task.pass_to_pass}
    bad = [n for n, o in {**f2p, **p2p}.items() if o != "passed"]
    if suite.result.timed_out:
        summary = f"the hidden checks timed out after {timeout:g}s"
    elif bad:
        summary = "not passed: " + ", ".join(f"{n} ({f2p.get(n) or p2p.get(n)})" for n in bad)
    else:
        summary = f"{len(f2p) + len(p2p)} hidden check(s) passed"
    return HiddenResult(not bad and not suite.result.timed_out, f2p, p2p, summary)
