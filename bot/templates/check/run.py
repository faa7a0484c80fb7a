"""Run the checks on every subject and collect one ``ModelResult`` each."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.errors import ModelError
from bot.templates.check.findings import CHECK_NAMES, QUICK, Finding, Subject
from bot.templates.check.generation import check_across, check_context, check_raw_equals_chat, check_stops
from bot.templates.check.runtime import RuntimeInfo, RuntimeRefused, Unsupported
from bot.templates.check.static import check_prompts, check_rendering, check_tokenization

Check = Callable[[Subject], list[Finding]]
SINGLE: dict[int, Check] = {
    1: check_rendering,
    2: check_tokenization,
    3: check_prompts,
    4: check_stops,
    5: check_raw_equals_chat,
    7: check_context,
}


@dataclass(frozen=True)
class ModelResult:
    """One model on its runtime: what was checked, against what, and what was found."""

    model: str
    runtime: RuntimeInfo
    template: str  # the reference's provenance ("label sha256:<hex>"), "" without one
    template_origin: str
    findings: tuple[Finding, ...]

    @property
    def failed(self) -> bool:
        return any(f.status == "fail" for f in self.findings)


def _safely(check: int, run: Callable[[], list[Finding]]) -> list[Finding]:
    """A check that cannot finish is a failure saying why, never an exception that hides the other checks."""
    try:
        return run()
    except Unsupported as exc:
        return [Finding(check, "skip", str(exc))]
    except (ModelError, RuntimeRefused) as exc:
        return [Finding(check, "fail", f"could not run: {exc}")]


def run_checks(subjects: Sequence[Subject], checks: Sequence[int] = tuple(CHECK_NAMES)) -> list[ModelResult]:
    """Every check in ``checks`` (numbers 1 to 7) on every subject, in order; 6 compares the subjects."""
    found: dict[str, list[Finding]] = {s.name: [] for s in subjects}
    for subject in subjects:
        for number in [n for n in checks if n in SINGLE and n < 6]:
            found[subject.name] += _safely(number, functools.partial(SINGLE[number], subject))
    if 6 in checks:
        try:
            across = check_across(subjects)
        except (ModelError, RuntimeRefused) as exc:
            across = {s.name: [Finding(6, "fail", f"could not run: {exc}")] for s in subjects}
        for name, findings in across.items():
            found[name] += findings
    if 7 in checks:
        for subject in subjects:
            found[subject.name] += _safely(7, functools.partial(check_context, subject))
    return [
        ModelResult(
            model=s.name,
            runtime=s.runtime.info,
            template=s.reference.provenance if s.reference else "",
            template_origin=s.reference_origin,
            findings=tuple(found[s.name]),
        )
        for s in subjects
    ]


def quick_problems(subject: Subject) -> list[str]:
    """The failures of the quick checks (1 to 3) on one subject, one line each; empty when it passes."""
    (result,) = run_checks([subject], QUICK)
    return [f"check {f.check} ({f.name}): {f.message}" for f in result.findings if f.status == "fail"]
