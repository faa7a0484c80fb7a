"""`guardrail action` end to end: real webhook payloads, the demo repository as the checkout, the fake GitHub over
real HTTP through the PyGithub adapter, a scripted Ollama, the real gates (ruff, pytest)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.cli import main
from tests.demo_pr import BAD_PATCH, GOOD_PATCH, LOOP_LINE, REVIEW_WITH_FIX
from tests.fakes.github_server import FakeGitHub
from tests.fakes.model_servers import FakeOllama, Reply
from tests.github.action_world import NUMBER, REPO, World, git, read_outputs

FIX = "    for i in range(1, n + 1):"


@pytest.fixture
def world(tmp_path: Path, fake: FakeGitHub, ollama: FakeOllama) -> World:
    return World.build(tmp_path, fake, ollama)


def run_action(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str], *args: str
) -> tuple[int, str, str]:
    """Run `guardrail action` with exactly ``env`` as the step's GitHub and Guardrail variables."""
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "GUARDRAIL_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(["action", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


Run = tuple[pytest.MonkeyPatch, pytest.CaptureFixture[str]]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    return monkeypatch, capsys


@pytest.mark.slow
def test_an_opened_pr_gets_one_review_one_summary_and_one_check_run(world: World, run: Run) -> None:
    world.ollama.default = Reply(GOOD_PATCH)
    world.pull_request_event("opened")
    code, _, err = run_action(*run, world.env(GUARDRAIL_PURPOSE="patch"))

    assert code == 0, err
    assert read_outputs(world.output) == {"verdict": "accepted", "posted": "true", "model": "coder-local"}
    [review] = world.fake.reviews(REPO, NUMBER)
    assert review["state"] == "COMMENTED" and review["commit_id"] == world.head
    [comment] = review["comments"]
    assert (comment["path"], comment["line"], comment["side"]) == ("mathkit/core.py", LOOP_LINE, "RIGHT")
    assert f"```suggestion\n{FIX}\n```" in comment["body"]
    assert "written by `coder-local` (ollama, local" in comment["body"] and "tests ✓" in comment["body"]
    [summary] = world.fake.issue_comments(REPO, NUMBER)
    assert summary["body"].startswith("<!-- guardrail:summary -->") and "✅ accepted" in summary["body"]
    [check] = world.fake.check_runs(REPO)
    assert (check["name"], check["head_sha"], check["conclusion"]) == ("guardrail/patch", world.head, "success")
    assert check["annotations"][0]["path"] == "mathkit/core.py"
    assert "Guardrail · patch · ✅ accepted" in world.summary.read_text()


@pytest.mark.slow
def test_the_same_event_twice_adds_nothing_and_a_push_updates_in_place(world: World, run: Run) -> None:
    world.ollama.default = Reply(GOOD_PATCH)
    world.pull_request_event("opened")
    assert run_action(*run, world.env(GUARDRAIL_PURPOSE="patch"))[0] == 0
    first_writes = world.writes()

    assert run_action(*run, world.env(GUARDRAIL_PURPOSE="patch"))[0] == 0  # a redelivery of the same event
    assert len(world.fake.reviews(REPO, NUMBER)) == 1
    assert len(world.fake.issue_comments(REPO, NUMBER)) == 1
    assert len(world.fake.check_runs(REPO)) == 1
    again = world.writes()[len(first_writes) :]
    assert not [w for w in again if w.startswith("POST")], again  # at most an in-place update, nothing created

    old_head = world.head
    new_head = world.push("README.md", "# mathkit\n")  # synchronize: a new head commit
    world.pull_request_event("synchronize")
    assert run_action(*run, world.env(GUARDRAIL_PURPOSE="patch"))[0] == 0
    assert [r["commit_id"] for r in world.fake.reviews(REPO, NUMBER)] == [old_head, new_head]
    [summary] = world.fake.issue_comments(REPO, NUMBER)
    assert f"`{new_head[:12]}`" in summary["body"]
    assert world.fake.requests_to("PATCH", f"/repos/{REPO}/issues/comments/*")
    assert sorted(c["head_sha"] for c in world.fake.check_runs(REPO)) == sorted([old_head, new_head])


@pytest.mark.slow
def test_a_fork_pr_falls_back_to_annotations_and_the_job_summary(
    tmp_path: Path, fake: FakeGitHub, ollama: FakeOllama, run: Run
) -> None:
    world = World.build(tmp_path, fake, ollama, head_repo="forker/Hello-World")
    fake.grant("ghs_ForkReadOnly", "read")
    ollama.default = Reply(GOOD_PATCH)
    world.pull_request_event("opened", head_repo="forker/Hello-World")
    env = world.env(GUARDRAIL_PURPOSE="patch", GUARDRAIL_GITHUB_TOKEN="ghs_ForkReadOnly")

    code, out, err = run_action(*run, env)

    assert code == 0, err
    assert f"::warning file=mathkit/core.py,line={LOOP_LINE},endLine={LOOP_LINE}," in out
    summary = world.summary.read_text()
    assert "comes from a fork" in summary and "read-only" in summary and "range(1, n + 1)" in summary
    assert world.writes() == []
    assert read_outputs(world.output) == {"verdict": "accepted", "posted": "false", "model": "coder-local"}


@pytest.mark.slow
def test_a_fork_pr_with_a_rejected_patch_exits_per_fail_on(
    tmp_path: Path, fake: FakeGitHub, ollama: FakeOllama, run: Run
) -> None:
    world = World.build(tmp_path, fake, ollama, head_repo="forker/Hello-World")
    fake.grant("ghs_ForkReadOnly", "read")
    ollama.default = Reply(BAD_PATCH)
    world.pull_request_event("opened", head_repo="forker/Hello-World")
    env = world.env(GUARDRAIL_PURPOSE="patch", GUARDRAIL_GITHUB_TOKEN="ghs_ForkReadOnly")

    assert run_action(*run, env | {"GUARDRAIL_FAIL_ON": "rejected"})[0] == 1
    assert "🚫 rejected" in world.summary.read_text() and "comes from a fork" in world.summary.read_text()
    assert run_action(*run, env | {"GUARDRAIL_FAIL_ON": "error"})[0] == 0
    assert world.writes() == []


@pytest.mark.slow
def test_a_read_only_token_on_a_same_repo_pr_falls_back_and_says_why(world: World, run: Run) -> None:
    world.fake.grant("ghs_DependabotReadOnly", "read")
    world.ollama.default = Reply(GOOD_PATCH)
    world.pull_request_event("opened")
    env = world.env(GUARDRAIL_PURPOSE="patch", GUARDRAIL_GITHUB_TOKEN="ghs_DependabotReadOnly")

    code, out, err = run_action(*run, env)

    assert code == 0, err
    assert f"::warning file=mathkit/core.py,line={LOOP_LINE}," in out
    assert "refused to let this workflow's token write (403)" in world.summary.read_text()
    assert world.fake.reviews(REPO, NUMBER) == [] and world.fake.check_runs(REPO) == []
    assert read_outputs(world.output)["posted"] == "false"


@pytest.mark.slow
def test_a_github_error_while_posting_still_writes_the_job_summary_and_fails(world: World, run: Run) -> None:
    world.ollama.default = Reply(GOOD_PATCH)
    world.fake.fail_next("POST", f"/repos/{REPO}/pulls/{NUMBER}/reviews", 400, body={"message": "Problems"})
    world.pull_request_event("opened")

    code, out, err = run_action(*run, world.env(GUARDRAIL_PURPOSE="patch"))

    assert code == 2 and "error:" in err
    assert "Posting to GitHub failed" in world.summary.read_text()
    assert f"::warning file=mathkit/core.py,line={LOOP_LINE}," in out
    assert read_outputs(world.output)["verdict"] == "accepted"


@pytest.mark.slow
def test_a_rejected_patch_posts_no_review_and_fails_per_fail_on(world: World, run: Run) -> None:
    world.ollama.default = Reply(BAD_PATCH)
    world.pull_request_event("opened")
    code, _, _ = run_action(*run, world.env(GUARDRAIL_PURPOSE="patch", GUARDRAIL_FAIL_ON="rejected"))

    assert code == 1
    assert read_outputs(world.output)["verdict"] == "rejected"
    assert world.fake.reviews(REPO, NUMBER) == []
    [check] = world.fake.check_runs(REPO)
    assert check["conclusion"] == "failure"
    [summary] = world.fake.issue_comments(REPO, NUMBER)
    assert "🚫 rejected" in summary["body"] and "tests" in summary["body"]


@pytest.mark.slow
def test_a_slash_command_from_a_writer_runs_the_purpose_it_names(world: World, run: Run) -> None:
    world.ollama.default = Reply(REVIEW_WITH_FIX)
    world.fake.set_permission(REPO, "Codertocat", "write")
    world.comment_event("/guardrail review")
    code, _, err = run_action(*run, world.env("issue_comment", GUARDRAIL_PURPOSE="patch"))

    assert code == 0, err
    [review] = world.fake.reviews(REPO, NUMBER)
    [comment] = review["comments"]
    assert comment["line"] == LOOP_LINE and f"```suggestion\n{FIX}\n```" in comment["body"]
    assert world.fake.check_runs(REPO)[0]["name"] == "guardrail/review"


def test_a_slash_command_from_a_reader_is_ignored(world: World, run: Run) -> None:
    world.fake.set_permission(REPO, "stranger", "read")
    world.comment_event("/guardrail patch", login="stranger")
    code, _, err = run_action(*run, world.env("issue_comment"))

    assert code == 0
    assert "nothing to do for event issue_comment action created: stranger has read access" in err
    assert world.writes() == [] and world.ollama.requests == []
    assert read_outputs(world.output)["verdict"] == "skipped"


def test_a_stale_delivery_for_an_old_head_posts_nothing(world: World, run: Run) -> None:
    world.pull_request_event("opened")  # delivered late: the PR has moved on since
    world.push("README.md", "# newer\n")
    code, _, err = run_action(*run, world.env())
    assert code == 0 and f"head moved on to {world.head[:12]}" in err
    assert world.writes() == [] and world.ollama.requests == []


def test_an_ignored_action_exits_0_and_says_why(world: World, run: Run) -> None:
    world.pull_request_event("closed")
    code, _, err = run_action(*run, world.env())
    assert code == 0 and "nothing to do for event pull_request action closed" in err
    assert world.writes() == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"GUARDRAIL_GITHUB_TOKEN": ""}, "input github-token"),
        ({"GITHUB_EVENT_PATH": "/nonexistent/event.json"}, "GITHUB_EVENT_PATH=/nonexistent/event.json"),
        ({"GUARDRAIL_ADMIN_POLICY": "models: {x: {backend: nope}}\npurposes: {}\n"}, "input admin-policy"),
        ({"GUARDRAIL_FAIL_ON": "sometimes"}, "input fail-on"),
        ({"GITHUB_EVENT_NAME": "push"}, "GITHUB_EVENT_NAME"),
    ],
)
def test_a_misconfiguration_fails_the_step_naming_the_input_or_file(
    world: World, run: Run, change: dict[str, str], named: str
) -> None:
    world.pull_request_event("opened")
    code, _, err = run_action(*run, world.env() | change)
    assert code == 2
    assert "configuration error" in err and named in err
    assert world.writes() == [] and world.ollama.requests == []


def test_a_bad_repository_config_at_the_base_names_the_file_and_line(world: World, run: Run) -> None:
    (world.repo / ".github/guardrail.yml").write_text("gates:\n  tests: {comand: pytest}\n")
    git(world.repo, "commit", "-qam", "typo in the config")
    world.base = git(world.repo, "rev-parse", "main")
    world.pull_request_event("opened")
    code, _, err = run_action(*run, world.env())
    assert code == 2
    assert f"{world.base[:12]}:.github/guardrail.yml:2" in err and "comand" in err
    assert world.writes() == []


def test_a_missing_head_commit_is_fetched_from_origin(tmp_path: Path, world: World, run: Run) -> None:
    git(world.repo, "update-ref", f"refs/pull/{NUMBER}/head", world.head)  # what GitHub keeps for every PR
    checkout = tmp_path / "checkout"
    origin = f"file://{world.repo}"  # a real transport: only main's objects come over, as with actions/checkout
    git(tmp_path, "clone", "-q", "--single-branch", "--branch", "main", origin, str(checkout))
    assert git(checkout, "cat-file", "-t", world.base) == "commit"
    with pytest.raises(Exception, match="returned non-zero"):
        git(checkout, "cat-file", "-e", world.head)
    world.ollama.default = Reply("no patch here")
    world.pull_request_event("opened")
    env = world.env() | {"GITHUB_WORKSPACE": str(checkout)}
    code, _, err = run_action(*run, env)
    assert code in (0, 1), err
    assert git(checkout, "cat-file", "-t", world.head) == "commit"
