"""The statistics behind --baseline: exact McNemar p-values, the bootstrap interval, and what is flagged."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.bakeoff.results import ModelInfo, Results, TaskRun, Try
from bot.bakeoff.stats import bootstrap_interval, compare, mcnemar_exact, model_stats, percentile

INFO = ModelInfo("m", "openai", "local", "x", "v", "unknown", "t", 0.0, 0.0)


def _run(task: str, passed: bool, seconds: float = 1.0, repeat: int = 0) -> TaskRun:
    verdict = Try(True) if passed else Try(False, "tests")
    return TaskRun(
        model="m", task=task, kind="pr-test", purpose="patch", repeat=repeat, first=verdict, final=verdict,
        well_formed=True, status="accepted" if passed else "rejected", reason=None, replies=1,
        latencies=(seconds,), prompt_tokens=100, completion_tokens=20, truncated=False, context_exhausted=False,
        lines_changed=2, files_changed=1, comments=0, landed=None, hidden="",
    )  # fmt: skip


def _results(runs: list[TaskRun]) -> Results:
    return Results("t", tuple(sorted({r.task for r in runs})), 1, False, "", 0.0, (INFO,), tuple(runs))


@pytest.mark.parametrize(
    ("b", "c", "p"),
    # exact binomial two-sided values: 2 * sum_{i<=min} C(n,i) / 2^n
    [(0, 0, 1.0), (1, 0, 1.0), (5, 0, 0.0625), (6, 0, 0.03125), (0, 6, 0.03125), (5, 1, 0.21875), (10, 2, 79 / 2048)],
)
def test_mcnemar_exact_matches_the_binomial_tail(b: int, c: int, p: float) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(p, abs=5e-5)


def test_percentiles_interpolate_like_numpy() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)
    assert percentile([], 50) is None


def test_the_bootstrap_interval_is_repeatable_and_brackets_the_mean() -> None:
    diffs = [0.9, 1.1, 1.0, 1.2, 0.8, 1.0]
    low, high = bootstrap_interval(diffs)
    assert (low, high) == bootstrap_interval(diffs)
    assert 0.8 <= low < 1.0 < high <= 1.2


def test_six_tasks_that_all_break_are_a_regression_and_one_is_not() -> None:
    before = _results([_run(f"t{i}", True) for i in range(6)])
    all_broken = _results([_run(f"t{i}", False) for i in range(6)])
    one_broken = _results([_run(f"t{i}", i != 3) for i in range(6)])

    [regression] = [c for c in compare(all_broken, before) if c.metric == "pass after re-ask"]
    [noise] = [c for c in compare(one_broken, before) if c.metric == "pass after re-ask"]

    assert regression.regression and regression.test.startswith("McNemar exact p=0.0312 (b=6")
    assert not noise.significant and not noise.regression and noise.after == pytest.approx(5 / 6)


def test_latency_is_flagged_only_when_it_moves_past_noise_and_the_minimum_effect() -> None:
    before = _results([_run(f"t{i}", True, seconds=2.0 + 0.01 * i) for i in range(8)])
    slower = _results([_run(f"t{i}", True, seconds=4.0 + 0.01 * i) for i in range(8)])
    jitter = _results([_run(f"t{i}", True, seconds=2.0 + 0.01 * ((i * 5) % 8)) for i in range(8)])
    consistent_but_tiny = _results([_run(f"t{i}", True, seconds=2.05 + 0.01 * i) for i in range(8)])

    def seconds(current: Results) -> bool:
        [c] = [c for c in compare(current, before) if c.metric == "seconds per task"]
        return c.regression

    assert seconds(slower)
    assert not seconds(jitter)
    assert not seconds(consistent_but_tiny)  # a 2.5% shift: real, but under the stated minimum effect


def test_runs_are_paired_by_task_and_repeat_so_reordering_changes_nothing() -> None:
    before = _results([_run("a", True), _run("b", False)])
    after = _results([_run("b", False), _run("a", True)])
    assert all(not c.significant for c in compare(after, before))


def test_harness_loss_counts_what_passed_raw_and_failed_through_the_pipeline() -> None:
    from bot.bakeoff.results import RawRun

    runs = [
        replace(_run("a", False), raw=RawRun(True, None, 1.0, 10, 10)),  # lost at tests
        replace(_run("b", True), raw=RawRun(True, None, 1.0, 10, 10)),
        replace(_run("c", True), raw=RawRun(False, "parse", 1.0, 10, 10)),  # gained
        replace(_run("d", False), raw=RawRun(False, "hidden", 1.0, 10, 10)),
    ]
    stats = model_stats("m", runs, INFO)
    assert (stats.raw_pass, stats.full_pass_on_raw_tasks, stats.harness_loss) == (0.5, 0.5, 0.0)
    assert stats.loss_by_stage == {"tests": 1} and stats.gain == 1


@pytest.mark.parametrize(
    ("model", "quantization"),
    [
        ("SmolLM2-135M-Instruct.Q4_1.gguf", "Q4_1"),
        ("qwen2.5-coder:7b-instruct-q4_K_M", "q4_K_M"),
        ("/models/llama-3-8b.IQ3_XS.gguf", "IQ3_XS"),
        ("model-F16.gguf", "F16"),
        ("Qwen2.5-7B-Instruct-AWQ", "AWQ"),
        ("claude-3-5-sonnet", "unknown"),
    ],
)
def test_the_quantization_is_read_from_the_file_name_or_tag(model: str, quantization: str) -> None:
    from bot.bakeoff.runner import quantization as read

    assert read(model) == quantization
