"""`guardrail bakeoff` end to end: a good and a bad scripted model over real HTTP, six real task repositories, the
real pipeline, gates and hidden checks; exact results and report; a regression flagged, a noise-level change not.

One run (module-scoped, ~30 s) is shared: its results are checked exactly and it is the baseline of the CLI runs.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bot.bakeoff import report
from bot.bakeoff.results import Results
from bot.bakeoff.runner import run_bakeoff
from bot.bakeoff.tasks import Task
from bot.cli import main
from bot.models.base import ChatModel
from bot.models.http import RetryPolicy
from bot.models.registry import create_model
from bot.policy_model import Price
from bot.types import ModelSpec
from tests.bakeoff import scripted
from tests.fakes.model_servers import FakeOpenAI

pytestmark = pytest.mark.slow
FAST = RetryPolicy(base_delay=0.001, max_delay=0.01)
STARTED = "2024-01-01T00:00:00+00:00"


@dataclass
class World:
    tasks: list[Task]
    task_dir: Path
    good: FakeOpenAI
    bad: FakeOpenAI
    results: Results
    baseline: Path


def _factory(spec: ModelSpec) -> ChatModel:
    return create_model(spec, env={}, retry=FAST)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("bakeoff")
    tasks = scripted.copy_tasks(root / "tasks")
    ticks = itertools.count()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        env.setenv("GUARDRAIL_CACHE_DIR", str(root / "cache"))
        with FakeOpenAI(respond=scripted.good(tasks)) as good, FakeOpenAI(respond=scripted.bad(tasks)) as bad:
            specs = [
                good.model_spec(name="good", location="cloud", retries=0),
                bad.model_spec(name="bad", retries=0),
            ]
            results = run_bakeoff(
                tasks,
                specs,
                tasks_arg=str(root / "tasks"),
                factory=_factory,
                prices={"good": Price(input=1.0, output=2.0), "bad": None},
                with_raw=True,
                clock=lambda: float(next(ticks)),  # every reply takes exactly one second
            )
            baseline = root / "baseline.json"
            baseline.write_text(results.to_json())
            yield World(tasks, root / "tasks", good, bad, replace(results, started=STARTED), baseline)


def _outcomes(results: Results) -> list[tuple[str, str, str, str, str]]:
    def word(passed: bool, stage: str | None) -> str:
        return "pass" if passed else str(stage)

    return [
        (r.model, r.task, word(r.first.passed, r.first.stage), word(r.final.passed, r.final.stage),
         word(r.raw.passed, r.raw.stage) if r.raw else "-")
        for r in results.runs
    ]  # fmt: skip


def test_each_run_is_judged_by_the_gates_and_the_hidden_checks(world: World) -> None:
    assert _outcomes(world.results) == [
        ("good", "hidden-clamp", "tests", "pass", "pass"),  # the gates' feedback fixed it
        ("good", "legacy-integer-division", "pass", "pass", "pass"),
        ("good", "lint-mutable-default", "pass", "pass", "pass"),
        ("good", "pr-test-discount", "pass", "pass", "pass"),
        ("good", "refactor-rename-alias", "pass", "pass", "pass"),
        ("good", "review-adult-age", "pass", "pass", "pass"),
        ("bad", "hidden-clamp", "parse", "parse", "parse"),
        ("bad", "legacy-integer-division", "parse", "parse", "parse"),
        ("bad", "lint-mutable-default", "ruff", "ruff", "parse"),
        ("bad", "pr-test-discount", "no effect", "no effect", "parse"),
        ("bad", "refactor-rename-alias", "no effect", "no effect", "parse"),
        ("bad", "review-adult-age", "missed", "missed", "parse"),
    ]
    clamp = world.results.runs[0]
    assert clamp.replies == 2 and clamp.latencies == (1.0, 1.0)
    assert clamp.reason is None and clamp.status == "accepted"
    review = world.results.runs[5]
    assert (review.landed, review.comments, review.lines_changed, review.files_changed) == (True, 1, 2, 1)


def test_the_gate_feedback_re_ask_tells_the_model_which_test_broke(world: World) -> None:
    clamp_requests = [r.json for r in world.good.chat_requests if "Clamp slider values" in json.dumps(r.json)]
    pipeline_asks = [r for r in clamp_requests if len(r["messages"]) > 1]
    assert len(pipeline_asks) == 2
    feedback = pipeline_asks[1]["messages"][-1]["content"]
    assert "gate tests failed: tests/test_clamp.py::test_too_high" in feedback
    assert pipeline_asks[1]["messages"][-2]["role"] == "assistant"  # it sees its own broken answer


def test_the_hidden_tests_never_reach_a_model(world: World) -> None:
    sent = json.dumps([r.json for r in world.good.chat_requests + world.bad.chat_requests])
    for task in world.tasks:
        for text in task.hidden.values():
            assert text.strip() not in sent
        assert "test_hidden" not in sent


# "took 61 s": 62 ticks of the test's clock, one per call: 18 pipeline replies (good 7: one re-ask after the tests
# gate; bad 11: two parse re-asks, one after ruff, two after the effect gate refused its comment-only patches) and
# 12 raw answers, two ticks each, plus the run's start and end. Tokens: 100 in and 20 out per pipeline reply.
# Cost of good: (700 * $1 + 140 * $2) / 1e6.
EXPECTED_HEAD = """\
# Guardrail bakeoff

Tasks: `{tasks}` (6 tasks), repeat 1, raw on; started 2024-01-01T00:00:00+00:00, took 61 s.

## Models

| model | runtime | location | model id | version | quantization | template | price in/out per Mtok |
| --- | --- | --- | --- | --- | --- | --- | --- |
| good | openai | cloud | fake-model | server says: fake-model | unknown | the server's own (not visible to Guardrail) \
| $1 / $2 |
| bad | openai | local | fake-model | server says: fake-model | unknown | the server's own (not visible to Guardrail) \
| $0 / $0 |

## Results through the pull-request path

A pass is a suggestion the gates accepted that also passes every hidden check (FAIL_TO_PASS and PASS_TO_PASS); \
for a review task, it must also comment on the seeded bug's line.

| model | runs | pass, first try | pass after re-ask | well-formed replies | truncated replies | context exhausted \
| latency p50 (s) | latency p95 (s) | tokens/s | tokens in | tokens out | cost |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
| good | 6 | 83.3% | 100.0% | 100.0% | 0 | 0 | 1.00 | 1.00 | 20.0 | 700 | 140 | $0.0010 |
| bad | 6 | 0.0% | 0.0% | 66.7% | 0 | 0 | 1.00 | 1.00 | 20.0 | 1100 | 220 | $0.0000 |

## Failures by stage, first try

| model | parse | ruff | tests | no effect | missed |
| --- | --- | --- | --- | --- | --- |
| good | 0 | 0 | 1 | 0 | 0 |
| bad | 2 | 1 | 0 | 2 | 1 |

## Failures by stage, after the re-ask

| model | parse | ruff | no effect | missed |
| --- | --- | --- | --- | --- |
| good | 0 | 0 | 0 | 0 |
| bad | 2 | 1 | 2 | 1 |

## Review effort

| model | lines changed per task | files changed per task | comments per task | review tasks \
| comment on the bug's line |
| --- | --- | --- | --- | --- | --- |
| good | 3.0 | 1.00 | 0.17 | 1 | 100.0% |
| bad | 0.8 | 0.50 | 0.17 | 1 | 0.0% |

## Harness loss (--raw)

Raw: the same model asked the plain problem directly, its answer run against the same hidden checks. The loss is \
the raw pass rate minus the full path's pass rate; 'lost at stage' counts the runs that passed raw but failed \
through Guardrail, by the stage where they failed.

| model | raw runs | raw pass | full path pass (same runs) | harness loss | lost at stage \
| full path passed, raw failed |
| --- | --- | --- | --- | --- | --- | --- |
| good | 6 | 100.0% | 100.0% | +0.0 points | none | 0 |
| bad | 6 | 0.0% | 0.0% | +0.0 points | none | 0 |

"""


def test_the_report_is_exact(world: World) -> None:
    text = report.markdown(world.results)
    head = text.split("## Per task")[0]
    assert head == EXPECTED_HEAD.format(tasks=world.task_dir)
    assert "| hidden-clamp | hidden-test | good | 0 | tests | pass | pass |" in text
    assert "| review-adult-age | review | bad | 0 | missed | missed | parse |" in text


def test_the_html_report_is_self_contained_with_inline_charts(world: World) -> None:
    page = report.page(world.results)
    charts = re.findall(r"<svg.*?</svg>", page, re.S)
    assert len(charts) == 2 and all(ET.fromstring(chart).tag.endswith("svg") for chart in charts)  # well-formed
    assert "<title>good after re-ask: 100.0%</title>" in page
    assert "<title>bad ruff: 1</title>" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page and "<script" not in page and "<link" not in page


def test_results_json_reads_back_as_written(world: World) -> None:
    again = Results.from_json(world.results.to_json(), "results.json")
    assert again == world.results


def _policy(tmp_path: Path, good_url: str, bad_url: str) -> Path:
    path = tmp_path / "admin.yml"
    path.write_text(
        "models:\n"
        f"  good: {{backend: openai, url: '{good_url}', model: fake-model, location: cloud, retries: 0,"
        " price: {input: 1.0, output: 2.0}}\n"
        f"  bad: {{backend: openai, url: '{bad_url}', model: fake-model, location: local, retries: 0}}\n"
    )
    return path


def _cli(world: World, tmp_path: Path, good_url: str, *extra: str) -> int:
    out = tmp_path / "out"
    policy = _policy(tmp_path, good_url, world.bad.url)
    argv = ["bakeoff", "--tasks", str(world.task_dir), "--model", "good", "--admin-policy", str(policy)]
    return main([*argv, "--baseline", str(world.baseline), "--out", str(out), "--quiet", *extra])


def test_a_real_regression_is_flagged_and_fails_the_command(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    # "good" is now served by the bad model: all six tasks go from pass to fail.
    code = _cli(world, tmp_path, world.bad.url)

    out = capsys.readouterr().out
    assert code == 1
    assert "REGRESSION good: pass after re-ask 1 -> 0 (McNemar exact p=0.0312 (b=6 pass->fail, c=0 fail->pass))" in out
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| good | pass after re-ask | 100.0% | 0.0% | 6 | McNemar exact p=0.0312 (b=6 pass->fail, c=0 " in md
    assert "| REGRESSION |" in md
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [r["final"]["passed"] for r in saved["runs"]] == [False] * 6


def test_a_noise_level_change_is_reported_but_not_flagged(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    with FakeOpenAI(respond=scripted.one_wrong(world.tasks, "pr-test-discount")) as almost:
        code = _cli(world, tmp_path, almost.url)

    out = capsys.readouterr().out
    assert code == 0, out
    assert "REGRESSION" not in out
    md = (tmp_path / "out" / "report.md").read_text()
    row = "| good | pass after re-ask | 100.0% | 83.3% | 6 | McNemar exact p=1.0000 (b=1 pass->fail, c=0 fail->pass)"
    assert row in md and "within noise" in md and "REGRESSION" not in md
