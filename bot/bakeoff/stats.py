"""Per-model figures of a bakeoff run, and the comparison with a baseline run that flags only real changes.

Paired pass/fail outcomes (same model, task and repeat in both runs) are compared with the exact McNemar test: of
the pairs that differ, ``b`` passed before and fail now, ``c`` the reverse; under "no change" b ~ Binomial(b + c,
1/2), and the two-sided p-value is ``min(1, 2 * P(X <= min(b, c)))`` (McNemar 1947; the exact form as in Fagerland,
Lydersen & Laake 2013, BMC Med Res Methodol 13:91). Continuous metrics (latency, tokens) are compared by a paired
percentile bootstrap of the mean difference (Efron & Tibshirani 1993, ch. 13), 2000 resamples with a fixed seed;
a change is flagged when the 95% interval excludes 0 and the mean moved by more than a stated minimum effect
(10% of the baseline's mean, and at least 0.1 s, 1 token or 1 line): a shift smaller than that is not worth failing
CI over, however consistent.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.bakeoff.results import STAGES, ModelInfo, Results, TaskRun

ALPHA = 0.05
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20240101


@dataclass(frozen=True)
class ModelStats:
    """What report.md shows for one model; rates are fractions 0..1, seconds are wall clock."""

    model: str
    runs: int
    first_pass: float
    final_pass: float
    well_formed: float
    first_failures: dict[str, int]
    final_failures: dict[str, int]
    truncated: int
    context_exhausted: int
    latency_p50: float | None
    latency_p95: float | None
    tokens_per_second: float | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    lines_per_task: float
    files_per_task: float
    comments_per_task: float
    review_tasks: int
    review_landed: float | None
    raw_runs: int
    raw_pass: float | None
    full_pass_on_raw_tasks: float | None
    harness_loss: float | None  # raw pass rate minus the full path's final pass rate, on the same runs
    loss_by_stage: dict[str, int]  # raw passed, full path failed: at which stage
    gain: int  # full path passed, raw failed


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100), linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _rate(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def _cost(info: ModelInfo | None, prompt: int, completion: int) -> float | None:
    if info is None or info.price_input is None or info.price_output is None:
        return None
    return (prompt * info.price_input + completion * info.price_output) / 1_000_000


def model_stats(model: str, runs: Sequence[TaskRun], info: ModelInfo | None) -> ModelStats:
    latencies = [s for r in runs for s in r.latencies]
    completion = sum(r.completion_tokens for r in runs)
    prompt = sum(r.prompt_tokens for r in runs)
    reviews = [r for r in runs if r.purpose == "review"]
    raws = [r for r in runs if r.raw is not None]
    raw_pass = _rate([r.raw.passed for r in raws if r.raw]) if raws else None
    full_on_raw = _rate([r.final.passed for r in raws]) if raws else None
    lost = Counter(r.final.stage or "?" for r in raws if r.raw and r.raw.passed and not r.final.passed)
    n = len(runs) or 1
    return ModelStats(
        model=model,
        runs=len(runs),
        first_pass=_rate([r.first.passed for r in runs]),
        final_pass=_rate([r.final.passed for r in runs]),
        well_formed=_rate([r.well_formed for r in runs]),
        first_failures=_by_stage(r.first.stage for r in runs if not r.first.passed),
        final_failures=_by_stage(r.final.stage for r in runs if not r.final.passed),
        truncated=sum(r.truncated for r in runs),
        context_exhausted=sum(r.context_exhausted for r in runs),
        latency_p50=percentile(latencies, 50),
        latency_p95=percentile(latencies, 95),
        tokens_per_second=completion / sum(latencies) if sum(latencies) > 0 else None,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost_usd=_cost(info, prompt, completion),
        lines_per_task=sum(r.lines_changed for r in runs) / n,
        files_per_task=sum(r.files_changed for r in runs) / n,
        comments_per_task=sum(r.comments for r in runs) / n,
        review_tasks=len(reviews),
        review_landed=_rate([bool(r.landed) for r in reviews]) if reviews else None,
        raw_runs=len(raws),
        raw_pass=raw_pass,
        full_pass_on_raw_tasks=full_on_raw,
        harness_loss=(raw_pass - full_on_raw) if raw_pass is not None and full_on_raw is not None else None,
        loss_by_stage=dict(sorted(lost.items(), key=lambda kv: _stage_order(kv[0]))),
        gain=sum(1 for r in raws if r.raw and not r.raw.passed and r.final.passed),
    )


def _stage_order(stage: str) -> int:
    return STAGES.index(stage) if stage in STAGES else len(STAGES)


def _by_stage(stages: object) -> dict[str, int]:
    counts = Counter(str(s) for s in stages)  # type: ignore[attr-defined]
    return {s: counts[s] for s in sorted(counts, key=_stage_order)}


def all_stats(results: Results) -> list[ModelStats]:
    infos = {m.name: m for m in results.models}
    return [
        model_stats(m.name, [r for r in results.runs if r.model == m.name], infos.get(m.name)) for m in results.models
    ]


# --- comparison with a baseline -----------------------------------------------------------------------------------


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for ``b`` and ``c`` discordant pairs (see the module docstring)."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / (1 << n)
    return min(1.0, 2 * tail)


def bootstrap_interval(
    diffs: Sequence[float], *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the mean of paired differences."""
    rng = random.Random(seed)
    n = len(diffs)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    return means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1]


@dataclass(frozen=True)
class Comparison:
    """One metric of one model against the baseline."""

    model: str
    metric: str
    before: float
    after: float
    pairs: int
    test: str  # "McNemar exact p=0.0313 (b=5, c=0)" / "bootstrap 95% CI of the mean difference [..]"
    significant: bool
    regression: bool  # significant and in the bad direction

    @property
    def flagged(self) -> bool:
        return self.regression


_BINARY: dict[str, Callable[[TaskRun], bool | None]] = {
    "first-try pass": lambda r: r.first.passed,
    "pass after re-ask": lambda r: r.final.passed,
    "well-formed reply": lambda r: r.well_formed,
    "raw pass": lambda r: r.raw.passed if r.raw else None,
}
MIN_RELATIVE_EFFECT = 0.10
# metric -> (value of a run, True when higher is worse, smallest absolute change worth flagging)
_CONTINUOUS: dict[str, tuple[Callable[[TaskRun], float | None], bool, float]] = {
    "seconds per task": (lambda r: sum(r.latencies) if r.latencies else None, True, 0.1),
    "completion tokens per task": (lambda r: float(r.completion_tokens) if r.latencies else None, True, 1.0),
    "review lines per task": (lambda r: float(r.lines_changed), True, 1.0),
}


def compare(current: Results, baseline: Results, alpha: float = ALPHA) -> list[Comparison]:
    """Each metric of each model present in both runs, paired by (task, repeat)."""
    out: list[Comparison] = []
    for model in [m.name for m in current.models if m.name in {b.name for b in baseline.models}]:
        before = {(r.task, r.repeat): r for r in baseline.runs if r.model == model}
        after = {(r.task, r.repeat): r for r in current.runs if r.model == model}
        keys = sorted(set(before) & set(after))
        for metric, value in _BINARY.items():
            pairs = [(value(before[k]), value(after[k])) for k in keys]
            known = [(x, y) for x, y in pairs if x is not None and y is not None]
            if known:
                out.append(_binary(model, metric, known, alpha))
        for metric, (number, higher_is_worse, floor) in _CONTINUOUS.items():
            values = [(number(before[k]), number(after[k])) for k in keys]
            paired = [(x, y) for x, y in values if x is not None and y is not None]
            if len(paired) >= 2:
                out.append(_continuous(model, metric, paired, higher_is_worse, floor))
    return out


def _binary(model: str, metric: str, pairs: list[tuple[bool, bool]], alpha: float) -> Comparison:
    b = sum(1 for x, y in pairs if x and not y)
    c = sum(1 for x, y in pairs if not x and y)
    p = mcnemar_exact(b, c)
    significant = p < alpha
    return Comparison(
        model=model,
        metric=metric,
        before=_rate([x for x, _ in pairs]),
        after=_rate([y for _, y in pairs]),
        pairs=len(pairs),
        test=f"McNemar exact p={p:.4f} (b={b} pass->fail, c={c} fail->pass)",
        significant=significant,
        regression=significant and b > c,
    )


def _continuous(
    model: str, metric: str, pairs: list[tuple[float, float]], higher_is_worse: bool, floor: float
) -> Comparison:
    diffs = [y - x for x, y in pairs]
    low, high = bootstrap_interval(diffs)
    before = statistics.fmean(x for x, _ in pairs)
    after = statistics.fmean(y for _, y in pairs)
    minimum = max(floor, MIN_RELATIVE_EFFECT * abs(before))
    significant = (low > 0 or high < 0) and abs(after - before) > minimum
    worse = (after > before) if higher_is_worse else (after < before)
    return Comparison(
        model=model,
        metric=metric,
        before=before,
        after=after,
        pairs=len(pairs),
        test=f"bootstrap 95% CI of the mean difference [{low:+.4g}, {high:+.4g}], minimum effect {minimum:.4g}",
        significant=significant,
        regression=significant and worse,
    )
