"""A `/guardrail` comment gates the head as it was when it was written, or the commit it names; a later push is not
gated on its authority, and the summary (or a comment, when nothing ran) says so."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.github.comment_head import head_at_comment_time
from bot.github.event import PullEvent, parse_event
from bot.types import PullInfo
from tests.demo_pr import GOOD_PATCH
from tests.fakes.github_server import FakeGitHub
from tests.fakes.model_servers import FakeOllama, Reply
from tests.github.action_world import NUMBER, REPO, World, payload, read_outputs
from tests.github.test_action_e2e import Run, run_action

HEAD = "c" * 40


@pytest.fixture
def world(tmp_path: Path, fake: FakeGitHub, ollama: FakeOllama) -> World:
    built = World.build(tmp_path, fake, ollama)
    fake.set_permission(REPO, "Codertocat", "write")
    ollama.default = Reply(GOOD_PATCH)
    return built


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    return monkeypatch, capsys


def _pull(updated: str | None) -> PullInfo:
    when = datetime.fromisoformat(updated) if updated else None
    return PullInfo(REPO, NUMBER, "main", "a" * 40, "feature", HEAD, REPO, updated_at=when)


def _comment_time() -> datetime:
    """``comment.created_at`` of the real delivery (tests/data/github/webhooks/issue_comment/created.json)."""
    data = payload("issue_comment/created.json")
    data["issue"]["pull_request"] = {"url": "x"}
    data["comment"]["body"] = "/guardrail patch"
    event = parse_event("issue_comment", data)
    assert isinstance(event, PullEvent) and event.comment_at is not None
    assert event.comment_at == datetime(2019, 5, 15, 15, 20, 21, tzinfo=UTC)
    return event.comment_at


def test_the_head_when_nothing_changed_since_the_comment() -> None:
    chosen = head_at_comment_time(
        command="patch", comment_at=_comment_time(), current=_pull("2019-05-15T15:20:21+00:00"), lookup=lambda _: None
    )
    assert chosen.sha == HEAD and not chosen.stale
    assert chosen.note == "gated cccccccccccc, the pull request's head when the comment was written"


def test_nothing_when_the_pull_request_changed_after_the_comment() -> None:
    chosen = head_at_comment_time(
        command="patch", comment_at=_comment_time(), current=_pull("2019-05-15T15:25:00+00:00"), lookup=lambda _: None
    )
    assert chosen.sha is None
    assert chosen.note == (
        "nothing was gated: the pull request changed at 2019-05-15 15:25:00 UTC, after the comment was written at "
        "2019-05-15 15:20:21 UTC, so its head may have moved since, and a later push is not gated on that comment's "
        "authority. The head is now cccccccccccc: comment `/guardrail patch cccccccccccc` to gate it"
    )


def test_nothing_when_github_gave_no_update_time() -> None:
    chosen = head_at_comment_time(command="review", comment_at=_comment_time(), current=_pull(None), lookup=str)
    assert chosen.sha is None and "changed at an unknown time" in chosen.note


def test_a_comment_naming_a_sha_that_is_not_a_commit_is_ignored_with_the_reason() -> None:
    data = payload("issue_comment/created.json")
    data["issue"]["pull_request"] = {"url": "x"}
    data["comment"]["body"] = "/guardrail patch main"
    event = parse_event("issue_comment", data)
    assert not isinstance(event, PullEvent)
    assert event.reason == "/guardrail patch main: 'main' is not a commit sha (7 to 40 hex digits)"


# --- the Action, end to end -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_push_after_the_comment_is_not_gated_and_the_writer_is_told(world: World, run: Run) -> None:
    world.comment_event("/guardrail patch")  # written at 2019-05-15 15:20:21 UTC (the real delivery's time)
    new_head = world.push("README.md", "# pushed after the comment\n")  # the fake's PR: updated now

    code, _, err = run_action(*run, world.env("issue_comment"))

    assert code == 0, err
    assert world.ollama.requests == []  # no model, no gates on the new head
    assert read_outputs(world.output)["verdict"] == "skipped"
    [told] = world.fake.issue_comments(REPO, NUMBER)
    assert "nothing was gated: the pull request changed at" in told["body"]
    assert f"comment `/guardrail patch {new_head[:12]}` to gate it" in told["body"]
    assert world.fake.reviews(REPO, NUMBER) == [] and world.fake.check_runs(REPO) == []
    assert "nothing was gated" in world.summary.read_text()


@pytest.mark.slow
def test_a_comment_naming_the_old_head_gates_that_commit_not_the_later_push(world: World, run: Run) -> None:
    old_head = world.head
    world.comment_event(f"/guardrail patch {old_head[:10]}")
    new_head = world.push("README.md", "# pushed after the comment\n")

    code, _, err = run_action(*run, world.env("issue_comment"))

    assert code == 0, err
    assert len(world.ollama.chat_requests) == 1
    [check] = world.fake.check_runs(REPO)
    assert check["head_sha"] == old_head  # the named commit was judged, not the new head
    [summary] = world.fake.issue_comments(REPO, NUMBER)
    assert (
        f"gated {old_head[:12]}, the commit the comment named; the pull request's head is now {new_head[:12]}, which "
        "was not gated on that comment's authority"
    ) in summary["body"]
    assert all(review["comments"] == [] for review in world.fake.reviews(REPO, NUMBER))  # no outdated suggestions


@pytest.mark.slow
def test_a_comment_naming_a_commit_outside_the_pull_request_gates_nothing(world: World, run: Run) -> None:
    world.comment_event(f"/guardrail review {world.base}")  # the base commit: not one of the PR's

    code, _, err = run_action(*run, world.env("issue_comment"))

    assert code == 0, err
    assert world.ollama.requests == []
    [told] = world.fake.issue_comments(REPO, NUMBER)
    assert f"nothing was gated: {world.base} is not a commit of this pull request" in told["body"]


@pytest.mark.slow
def test_an_unchanged_pull_request_gates_its_head_and_says_which(world: World, run: Run) -> None:
    world.comment_event("/guardrail patch")

    code, _, err = run_action(*run, world.env("issue_comment"))

    assert code == 0, err
    [check] = world.fake.check_runs(REPO)
    assert check["head_sha"] == world.head
    [summary] = world.fake.issue_comments(REPO, NUMBER)
    assert f"gated {world.head[:12]}, the pull request's head when the comment was written" in summary["body"]
