"""What a verified suggestion did, in a maintainer's words: the sentences the review and the summary lead with.

    Fixes `tests/test_calc.py::test_sub`, failing at the head.
    No test exercises this change: the tests pass with and without it.

They come from the gates' evidence (``GateResult.fixed`` / ``remaining``, see ``bot.types``): the tests failing at
the head that pass with the patch (FAIL_TO_PASS), the head's failing tests that still fail, the ruff findings it
removes. Nothing here is taken from the model's own description of its change.
"""

from __future__ import annotations

from bot.reporters.suggestions import code_span
from bot.types import Finding, GateResult

MAX_NAMED = 3


def _test_name(finding: Finding) -> str:
    return finding.message.partition(": ")[0]


def _named(items: list[str]) -> str:
    # a PR names its own tests and files: ``test_x[`<details>`]`` must stay inside its code span
    shown = ", ".join(code_span(item) for item in items[:MAX_NAMED])
    more = len(items) - MAX_NAMED
    return shown + (f" and {more} more" if more > 0 else "")


def _finding_name(finding: Finding) -> str:
    return f"{finding.rule} {finding.path}:{finding.line}" if finding.line else f"{finding.rule} {finding.path}"


def evidence_lines(gates: tuple[GateResult, ...]) -> list[str]:
    """The evidence sentences, most important first; empty when no gate ran on code (a review without a change)."""
    tests = next((g for g in gates if g.name == "tests"), None)
    fixed = [_test_name(f) for g in gates for f in g.fixed if f.rule == "test"]
    still = [_test_name(f) for g in gates for f in g.remaining if f.rule == "test"]
    removed = [_finding_name(f) for g in gates if g.name != "tests" for f in g.fixed]
    lines = []
    if fixed:
        lines.append(f"Fixes {_named(fixed)}, failing at the head." if len(fixed) == 1 else
                     f"Fixes {len(fixed)} tests failing at the head: {_named(fixed)}.")  # fmt: skip
    elif still:
        lines.append(f"Fixes none of the {len(still)} test(s) failing at the head: {_named(still)} still fail.")
    elif tests is not None and tests.status == "pass":
        lines.append("No test exercises this change: the tests pass with and without it.")
    if fixed and still:
        lines.append(f"Still failing, as at the head: {_named(still)}.")
    if removed:
        lines.append(f"Removes {len(removed)} ruff finding(s) the head had: {_named(removed)}.")
    return lines


def evidence_text(gates: tuple[GateResult, ...]) -> str:
    """The evidence as one paragraph ("" when there is none)."""
    return " ".join(evidence_lines(gates))
