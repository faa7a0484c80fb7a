"""The triggering event of an Action run (``GITHUB_EVENT_NAME`` + the JSON at ``GITHUB_EVENT_PATH``), as our types.

What Guardrail acts on:

* ``pull_request`` with action ``opened``, ``synchronize``, ``reopened`` or ``ready_for_review``;
* ``issue_comment`` ``created`` on a pull request whose first line is ``/guardrail review`` or ``/guardrail patch``,
  optionally followed by the commit to gate (``/guardrail patch 1a2b3c4``); the Action then checks that the
  commenter has write access, and gates the head as it was when the comment was written
  (``bot.github.comment_head``).

What it deliberately ignores, exiting 0 with "nothing to do for event X action Y" and the reason: other
``pull_request`` actions (closed, labeled, edited…), a draft PR (it runs again on ``ready_for_review``), comments
that are edited or deleted, comments on issues, comments that are not a ``/guardrail`` command, and comments
written by a bot. Any other event is a misconfigured workflow and fails the step: ``pull_request_target`` in
particular, because running the PR's tests with a write token and secrets is the "pwn request" hole.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.errors import ConfigError
from bot.types import PullInfo, Purpose

PR_ACTIONS = ("opened", "synchronize", "reopened", "ready_for_review")
_COMMAND_RE = re.compile(r"^\s*/guardrail\s+(\S+)(?:\s+(\S+))?")
_SHA_RE = re.compile(r"^[0-9a-fA-F]{7,40}$")


class Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Repo(Loose):
    full_name: str


class _Ref(Loose):
    ref: str
    sha: str
    repo: _Repo | None = None  # null when the fork was deleted


class _Pull(Loose):
    number: int
    title: str = ""
    body: str | None = None
    draft: bool = False
    base: _Ref
    head: _Ref


class _User(Loose):
    login: str
    type: str = "User"


class _Issue(Loose):
    number: int
    pull_request: dict[str, Any] | None = None


class _Comment(Loose):
    body: str | None = None
    user: _User
    created_at: datetime


class _PullRequestPayload(Loose):
    action: str
    repository: _Repo
    pull_request: _Pull


class _IssueCommentPayload(Loose):
    action: str
    repository: _Repo
    issue: _Issue
    comment: _Comment


@dataclass(frozen=True)
class PullEvent:
    """An event Guardrail acts on. ``pull`` is None for a comment (the Action fetches the PR then)."""

    event: str
    action: str
    repo_name: str
    number: int
    pull: PullInfo | None = None
    purpose: Purpose | None = None  # what a slash command asked for; None: the `purpose` input
    requested_by: str | None = None  # the commenter, whose write access the Action checks
    comment_at: datetime | None = None  # when the command was written (GitHub's comment.created_at)
    named_sha: str | None = None  # the commit a `/guardrail patch <sha>` comment names


@dataclass(frozen=True)
class Ignored:
    """An event Guardrail deliberately does nothing for."""

    event: str
    action: str
    reason: str

    @property
    def message(self) -> str:
        action = f" action {self.action}" if self.action not in ("", "-") else ""  # ping has no action
        return f"nothing to do for event {self.event}{action}: {self.reason}"


def _pull_info(repo: str, pull: _Pull) -> PullInfo:
    return PullInfo(
        repo_name=repo,
        number=pull.number,
        base_ref=pull.base.ref,
        base_sha=pull.base.sha,
        head_ref=pull.head.ref,
        head_sha=pull.head.sha,
        head_repo_name=pull.head.repo.full_name if pull.head.repo else "(deleted fork)",
        title=pull.title,
        body=pull.body or "",
        draft=pull.draft,
    )


def _pull_request(data: dict[str, Any], where: str) -> PullEvent | Ignored:
    payload = validated(_PullRequestPayload, data, where)
    if payload.action not in PR_ACTIONS:
        return Ignored("pull_request", payload.action, f"Guardrail runs on {', '.join(PR_ACTIONS)}")
    if payload.pull_request.draft:
        return Ignored("pull_request", payload.action, "the PR is a draft; Guardrail runs when it is ready for review")
    pull = _pull_info(payload.repository.full_name, payload.pull_request)
    return PullEvent("pull_request", payload.action, pull.repo_name, pull.number, pull=pull)


def _issue_comment(data: dict[str, Any], where: str) -> PullEvent | Ignored:
    payload = validated(_IssueCommentPayload, data, where)
    action = payload.action
    if action != "created":
        return Ignored("issue_comment", action, "only a newly created comment can ask for a run")
    if payload.issue.pull_request is None:
        return Ignored("issue_comment", action, f"#{payload.issue.number} is an issue, not a pull request")
    if payload.comment.user.type == "Bot":
        return Ignored("issue_comment", action, f"the comment is by the bot {payload.comment.user.login}")
    first_line = (payload.comment.body or "").strip().split("\n", 1)[0]
    match = _COMMAND_RE.match(first_line)
    if match is None:
        return Ignored("issue_comment", action, "the comment is not a /guardrail command")
    word = match.group(1).lower()
    if word not in ("review", "patch"):
        return Ignored("issue_comment", action, f"unknown command /guardrail {word}; use review or patch")
    named = match.group(2)
    if named is not None and not _SHA_RE.match(named):
        reason = f"/guardrail {word} {named}: {named!r} is not a commit sha (7 to 40 hex digits)"
        return Ignored("issue_comment", action, reason)
    return PullEvent(
        "issue_comment",
        action,
        payload.repository.full_name,
        payload.issue.number,
        purpose=cast(Purpose, word),
        requested_by=payload.comment.user.login,
        comment_at=payload.comment.created_at,
        named_sha=named.lower() if named else None,
    )


def validated(model: type[Loose], data: dict[str, Any], where: str, subject: str = "the event payload is ") -> Any:
    """``model`` validated from a webhook payload; ConfigError naming the first bad key, ``where`` being the source."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{subject}not what GitHub sends: {first['msg']}", where=where, key=key) from exc


def parse_event(name: str, data: Any, where: str = "GITHUB_EVENT_PATH") -> PullEvent | Ignored:
    """The event as a PullEvent or Ignored; a ConfigError (naming ``where``) for an event Guardrail cannot run on."""
    if not isinstance(data, dict):
        raise ConfigError("the event payload is not a JSON object", where=where)
    if name == "pull_request":
        return _pull_request(data, where)
    if name == "issue_comment":
        return _issue_comment(data, where)
    if name == "pull_request_target":
        raise ConfigError(
            "Guardrail refuses pull_request_target: it would run the PR's code with a write token and the "
            "repository's secrets. Use `on: pull_request` (and the fork-safe workflow_run pair to post on forks)",
            where="GITHUB_EVENT_NAME",
        )
    raise ConfigError(
        f"guardrail action runs on pull_request and issue_comment events, not {name!r}; change the workflow's `on:`",
        where="GITHUB_EVENT_NAME",
    )


MAX_PAYLOAD_BYTES = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB (docs: "Webhook events and payloads")


def read_payload(path: Path) -> dict[str, Any]:
    """The JSON at ``path`` (``GITHUB_EVENT_PATH``), read up to ``MAX_PAYLOAD_BYTES``; a ConfigError naming the file
    if it cannot be read, is larger (``/dev/zero`` ends, never hangs) or is not a JSON object."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_PAYLOAD_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read the event file ({exc.strerror})", where=f"GITHUB_EVENT_PATH={path}") from exc
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise ConfigError(
            "the event file is larger than GitHub's 25 MB payload limit; check that it names the event",
            where=f"GITHUB_EVENT_PATH={path}",
        )
    try:
        data = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"the event file is not JSON ({exc})", where=f"GITHUB_EVENT_PATH={path}") from exc
    if not isinstance(data, dict):
        raise ConfigError("the event file does not hold a JSON object", where=f"GITHUB_EVENT_PATH={path}")
    return data


def read_event(name: str, path: Path) -> PullEvent | Ignored:
    return parse_event(name, read_payload(path), where=f"GITHUB_EVENT_PATH={path}")
