"""Event parsing for the Action, from the real webhook payloads in tests/data/github/webhooks/."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bot.errors import ConfigError
from bot.github.event import Ignored, PullEvent, parse_event, read_event
from tests.fakes.github_shapes import GITHUB_DATA

WEBHOOKS = GITHUB_DATA / "webhooks"


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((WEBHOOKS / name).read_text())
    return data


def _comment(body: str, *, on_pr: bool = True, user_type: str = "User") -> dict[str, Any]:
    data = payload("issue_comment/created.json")
    data["comment"]["body"] = body
    data["comment"]["user"]["type"] = user_type
    if on_pr:  # a comment on a PR's conversation: GitHub adds issue.pull_request
        number = data["issue"]["number"]
        url = data["repository"]["url"]
        data["issue"]["pull_request"] = {"url": f"{url}/pulls/{number}", "diff_url": "x", "patch_url": "y"}
    return data


@pytest.mark.parametrize("action", ["opened", "synchronize", "reopened", "ready_for_review"])
def test_pull_request_actions_we_run_on(action: str) -> None:
    event = parse_event("pull_request", payload(f"pull_request/{action}.json"))
    assert isinstance(event, PullEvent)
    assert event.pull is not None
    assert event.pull.repo_name == "Codertocat/Hello-World"
    assert event.pull.number == 2
    assert event.pull.head_sha == "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
    assert event.pull.base_sha == "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
    assert not event.pull.is_fork


@pytest.mark.parametrize("name", ["closed.json", "labeled.json", "edited.DERIVED-from-opened.json"])
def test_other_pull_request_actions_are_ignored_with_a_reason(name: str) -> None:
    event = parse_event("pull_request", payload(f"pull_request/{name}"))
    assert isinstance(event, Ignored)
    assert event.message.startswith(f"nothing to do for event pull_request action {event.action}:")


def test_a_draft_pr_waits_for_ready_for_review() -> None:
    data = payload("pull_request/opened.json")
    data["pull_request"]["draft"] = True
    event = parse_event("pull_request", data)
    assert isinstance(event, Ignored) and "draft" in event.reason


def test_a_fork_pr_is_recognised() -> None:
    data = payload("pull_request/opened.json")
    data["pull_request"]["head"]["repo"]["full_name"] = "someone/Hello-World"
    event = parse_event("pull_request", data)
    assert isinstance(event, PullEvent) and event.pull is not None and event.pull.is_fork


@pytest.mark.parametrize(("body", "purpose"), [("/guardrail review", "review"), ("/guardrail patch\nplease", "patch")])
def test_slash_commands_on_a_pr(body: str, purpose: str) -> None:
    event = parse_event("issue_comment", _comment(body))
    assert isinstance(event, PullEvent)
    assert (event.purpose, event.requested_by, event.number, event.pull) == (purpose, "Codertocat", 1, None)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (_comment("You are totally right!"), "not a /guardrail command"),
        (_comment("/guardrail deploy"), "unknown command"),
        (_comment("/guardrail review", on_pr=False), "is an issue"),
        (_comment("/guardrail review", user_type="Bot"), "bot"),
    ],
)
def test_comments_we_deliberately_ignore(data: dict[str, Any], why: str) -> None:
    event = parse_event("issue_comment", data)
    assert isinstance(event, Ignored) and why in event.reason


def test_edited_comments_are_ignored() -> None:
    event = parse_event("issue_comment", payload("issue_comment/edited.json"))
    assert isinstance(event, Ignored) and event.action == "edited"


def test_an_event_we_do_not_run_on_fails_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"GITHUB_EVENT_NAME.*'push'"):
        parse_event("push", {"ref": "refs/heads/main"})


def test_pull_request_target_is_refused() -> None:
    with pytest.raises(ConfigError, match="pull_request_target"):
        parse_event("pull_request_target", payload("pull_request/opened.json"))


def test_a_payload_missing_what_we_need_names_the_key(tmp_path: Path) -> None:
    data = copy.deepcopy(payload("pull_request/opened.json"))
    del data["pull_request"]["head"]
    path = tmp_path / "event.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"GITHUB_EVENT_PATH=.*event.json.*pull_request\.head"):
        read_event("pull_request", path)


def test_an_unreadable_event_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"GITHUB_EVENT_PATH=.*missing\.json"):
        read_event("pull_request", tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not JSON"):
        read_event("pull_request", bad)


def test_an_endless_event_file_is_refused_not_read_forever() -> None:
    """GITHUB_EVENT_PATH=/dev/zero (or a huge file named by mistake) ends in a ConfigError after a bounded read."""
    with pytest.raises(ConfigError, match=r"GITHUB_EVENT_PATH=/dev/zero: the event file is larger than GitHub's 25 MB"):
        read_event("pull_request", Path("/dev/zero"))
