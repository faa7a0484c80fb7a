"""A verified patch says what it did: the demo pull request (its head fails tests/test_mathkit.py::test_factorial),
a scripted local model on 127.0.0.1, the real pipeline and gates, and the words a maintainer reads in the terminal
report, the summary comment and the review."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bot import pipeline
from bot.config import RepoConfig
from bot.models.registry import create_model
from bot.policy import load_admin_policy, resolve
from bot.reporters import terminal
from bot.reporters.base import PostContext, verdict_of
from bot.reporters.github_review import review_body
from bot.reporters.github_summary import render_summary
from bot.reporters.suggestions import plan_review
from bot.types import GateSettings, Outcome, PullInfo, PullRequest
from checks import worktree
from tests.demo_pr import CORE, GOOD_PATCH, admin_policy, build_demo, commit_file
from tests.fakes.model_servers import FakeAnthropic, FakeOllama, Reply

pytestmark = pytest.mark.slow
FIXED_TEST = "tests/test_mathkit.py::test_factorial"

SAME_MEAN = """Divide by a float.

mathkit/core.py
<<<<<<< SEARCH
    return sum(values) / len(values)
=======
    return sum(values) / float(len(values))
>>>>>>> REPLACE
"""

COMMENT_ONLY = """Explain the loop.

mathkit/core.py
<<<<<<< SEARCH
    for i in range(1, n):
=======
    # multiply every number up to n
    for i in range(1, n):
>>>>>>> REPLACE
"""


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return build_demo(tmp_path / "repo")


@dataclass
class Local:
    server: FakeOllama
    policy: Path


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Local]:
    monkeypatch.setenv("GUARDRAIL_CACHE_DIR", str(tmp_path / "baselines"))
    with FakeOllama() as server, FakeAnthropic() as cloud:
        yield Local(server, admin_policy(tmp_path / "admin.yml", server.url, cloud.url))


def patch_outcome(demo: Path, local: Local, tmp_path: Path, reply: str, extra_policy: str = "") -> Outcome:
    policy_path = local.policy
    if extra_policy:
        policy_path.write_text(
            policy_path.read_text().replace("  patch: {allow: [coder-local, coder-cloud]}", extra_policy)
        )
    admin = load_admin_policy(policy_path, {})
    resolution = resolve(admin, RepoConfig(), "acme/app", "patch")
    resolution = replace(resolution, candidates=resolution.candidates[:1])  # the local model only
    local.server.script(Reply(reply))
    pr = PullRequest(repo=demo, base="main", head="pr", title="Compute factorial with a loop")
    return pipeline.run(
        pr,
        "patch",
        resolution=resolution,
        gate_settings=GateSettings(tests_timeout=120),
        model_factory=lambda spec: create_model(spec, env={}),
    )


def context(outcome: Outcome) -> PostContext:
    pr = outcome.pr
    diff = worktree.diff(pr.repo, pr.base_sha, pr.head_sha)
    pull = PullInfo("acme/app", 1, "main", pr.base_sha, "pr", pr.head_sha, "acme/app")
    return PostContext(pull, plan_review(outcome.suggestion, diff, pr.head_sha, 20))


def test_a_fix_leads_with_the_test_it_fixes(demo: Path, local: Local, tmp_path: Path) -> None:
    outcome = patch_outcome(demo, local, tmp_path, GOOD_PATCH)
    assert outcome.posted, outcome.attempts
    tests_gate = next(g for g in outcome.attempts[0].gates if g.name == "tests")
    assert [f.message for f in tests_gate.fixed] == [f"{FIXED_TEST}: failed at the head, passes with the patch"]
    lead = f"Fixes `{FIXED_TEST}`, failing at the head."
    report = terminal.render(outcome).splitlines()
    assert report[2] == lead  # right under the heading
    summary = render_summary(outcome, context(outcome)).splitlines()
    assert summary[3] == f"**Evidence:** {lead}"
    body = review_body(outcome, context(outcome).plan).split("\n\n")
    assert body[1] == f"**{lead}**"  # first thing after the hidden markers


def test_a_patch_that_fixes_none_of_the_heads_failing_tests_is_not_posted(
    demo: Path, local: Local, tmp_path: Path
) -> None:
    outcome = patch_outcome(demo, local, tmp_path, SAME_MEAN)
    assert not outcome.posted and verdict_of(outcome) == "rejected"
    assert outcome.attempts[0].reason == (
        f"fixes none of the 1 test(s) failing at the head ({FIXED_TEST} still fail): not posted as a fix "
        "(the admin policy's purposes.patch.post_without_fix allows that)"
    )
    assert {g.name: g.status for g in outcome.attempts[0].gates}["tests"] == "pass"
    assert "fixes none of the 1 test(s) failing at the head" in terminal.render(outcome)


def test_the_admin_can_allow_it_and_the_report_says_so(demo: Path, local: Local, tmp_path: Path) -> None:
    relaxed = "  patch: {allow: [coder-local, coder-cloud], post_without_fix: true}"
    outcome = patch_outcome(demo, local, tmp_path, SAME_MEAN, extra_policy=relaxed)
    assert outcome.posted
    lead = f"Fixes none of the 1 test(s) failing at the head: `{FIXED_TEST}` still fail."
    assert terminal.render(outcome).splitlines()[2] == lead
    assert f"**Evidence:** {lead}" in render_summary(outcome, context(outcome))


def test_a_comment_only_patch_is_rejected_as_no_effect(demo: Path, local: Local, tmp_path: Path) -> None:
    outcome = patch_outcome(demo, local, tmp_path, COMMENT_ONLY)
    assert not outcome.posted
    assert (outcome.attempts[0].reason or "").startswith(
        "gate effect failed: no effect: the patch changes only comments"
    )


def test_with_no_failing_test_at_the_head_a_code_change_says_no_test_exercises_it(
    demo: Path, local: Local, tmp_path: Path
) -> None:
    fixed = worktree.read_file_at(demo, "pr", CORE)
    assert fixed is not None
    commit_file(demo, "pr", CORE, fixed.replace("range(1, n)", "range(1, n + 1)"))
    outcome = patch_outcome(demo, local, tmp_path, SAME_MEAN)
    assert outcome.posted
    lead = "No test exercises this change: the tests pass with and without it."
    assert terminal.render(outcome).splitlines()[2] == lead
    assert review_body(outcome, context(outcome).plan).split("\n\n")[1] == f"**{lead}**"


def test_a_head_whose_tests_do_not_run_is_an_error_never_a_rejection(demo: Path, local: Local, tmp_path: Path) -> None:
    init = worktree.read_file_at(demo, "pr", "mathkit/__init__.py") or ""
    commit_file(demo, "pr", "mathkit/__init__.py", "from mathkit._version import version\n" + init)
    outcome = patch_outcome(demo, local, tmp_path, GOOD_PATCH)  # the right fix, on a head that cannot collect
    assert not outcome.posted and verdict_of(outcome) == "error"
    reason = outcome.attempts[0].reason or ""
    assert outcome.attempts[0].status == "error"
    assert reason.startswith(
        "error: gate tests could not run: the head's tests do not run: the run was interrupted (exit 2: collection "
        "errors, or Ctrl-C): ModuleNotFoundError: No module named 'mathkit._version'"
    )
    assert "rejected" not in terminal.render(outcome)
