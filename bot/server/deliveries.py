"""Which webhook deliveries become jobs. The payload is untrusted JSON (signed by GitHub, but shaped by nobody we
know): it is validated here and nothing but a ``Job`` leaves this module.

    pull_request   opened, synchronize, reopened, ready_for_review (not a draft)      → a job for the PR's head
    issue_comment  created on a PR, first line ``/guardrail review|patch``, by a user → a job; the worker checks the
                   user's write access and refuses politely otherwise
    check_run      rerequested, for a ``guardrail/<purpose>`` run of this App           → a job for that head
    installation, installation_repositories, ping                                     → noted, nothing to run
    anything else                                                                     → ignored (202, counted)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from bot.errors import ConfigError
from bot.github.event import Ignored, Loose, PullEvent, parse_event, validated
from bot.types import PURPOSES, Purpose

CHECK_PREFIX = "guardrail/"
NOTED_EVENTS = ("installation", "installation_repositories", "ping")


@dataclass(frozen=True)
class Job:
    """One unit of work for a worker: everything it needs from the delivery, as plain values (the queue pickles
    ``as_dict()``). ``head_sha`` is None for a slash command whose PR head the server had not seen yet."""

    delivery_id: str
    event: str
    action: str
    repo: str
    number: int
    purpose: Purpose
    installation_id: int | None
    clone_url: str
    head_sha: str | None = None  # the commit to gate; None for a slash command until the worker decides
    requested_by: str | None = None
    comment_id: int | None = None
    comment_at: str | None = None  # ISO 8601: when the slash command was written (comment.created_at)
    named_sha: str | None = None  # the commit a `/guardrail patch <sha>` comment names
    seen_head: str | None = None  # the PR's newest head the server knew when it accepted the delivery
    head_at: str | None = None  # the PR's updated_at in a pull_request delivery ("%Y-%m-%dT%H:%M:%SZ", UTC): orders
    # deliveries that GitHub sent concurrently and that arrived out of order
    attempt: int = 0  # 0 first; +1 each time a job whose worker died is run again

    @property
    def pr_key(self) -> str:
        return f"{self.repo}#{self.number}"

    @property
    def key(self) -> str:
        return f"{self.delivery_id}:{self.attempt}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        return cls(**data)

    def with_head(self, head_sha: str | None) -> Job:
        return replace(self, head_sha=head_sha)

    def with_seen_head(self, seen_head: str | None) -> Job:
        return replace(self, seen_head=seen_head)

    def retried(self) -> Job:
        return replace(self, attempt=self.attempt + 1)


class _Installation(Loose):
    id: int


class _Repo(Loose):
    id: int | None = None
    full_name: str
    clone_url: str = ""


class _App(Loose):
    id: int
    client_id: str | None = None  # in newer payloads (GitHub's official schema)

    def is_not(self, app_id: str) -> bool:
        """Whether this App is certainly not the one ``app_id`` (GUARDRAIL_APP_ID: the numeric id or the client id)
        names; False when the payload does not say (an older payload without ``client_id``)."""
        if app_id.isdigit():
            return str(self.id) != app_id
        return bool(app_id) and self.client_id is not None and self.client_id != app_id


class _LinkRepo(Loose):
    id: int


class _LinkSide(Loose):
    repo: _LinkRepo | None = None


class _CheckPull(Loose):
    number: int
    base: _LinkSide | None = None

    def in_repo(self, repo_id: int | None) -> bool:
        """Whether this pull request is the repository's own (its base is there). An entry that says nothing about
        its base (older payloads) counts as the repository's own, as GitHub meant it."""
        if repo_id is None or self.base is None or self.base.repo is None:
            return True
        return self.base.repo.id == repo_id


class _CheckRun(Loose):
    name: str
    head_sha: str
    app: _App | None = None
    pull_requests: list[_CheckPull] = Field(default_factory=list)


class _PullStamp(Loose):
    updated_at: datetime | None = None


class _StampPayload(Loose):
    pull_request: _PullStamp


class _Envelope(Loose):
    action: str = ""
    repository: _Repo | None = None
    installation: _Installation | None = None


class _CheckRunPayload(Loose):
    action: str
    repository: _Repo
    check_run: _CheckRun


class _Comment(Loose):
    id: int


class _CommentPayload(Loose):
    comment: _Comment


def classify(event: str, data: Any, delivery_id: str, *, app_id: str = "") -> Job | Ignored:
    """The job this delivery asks for, or why there is none; ConfigError (→ 400) for a malformed payload."""
    where = f"delivery {delivery_id} ({event})"
    if not isinstance(data, dict):
        raise ConfigError("the payload is not a JSON object", where=where)
    envelope: _Envelope = validated(_Envelope, data, where, subject="")
    action = envelope.action
    if event in NOTED_EVENTS:
        return Ignored(event, action or "-", "noted, nothing to run")
    if event in ("pull_request", "issue_comment"):
        parsed = parse_event(event, data, where=where)
        if isinstance(parsed, Ignored):
            return parsed
        return _job_for_pull_event(parsed, envelope, data, delivery_id, where)
    if event == "check_run":
        return _check_run(data, envelope, delivery_id, where, app_id)
    return Ignored(event, action or "-", "Guardrail does not act on this event")


def _installation(envelope: _Envelope, event: str, action: str) -> int | Ignored:
    if envelope.installation is None:
        return Ignored(event, action, "the delivery has no installation: it is not from a GitHub App")
    return envelope.installation.id


def _job_for_pull_event(
    parsed: PullEvent, envelope: _Envelope, data: dict[str, Any], delivery_id: str, where: str
) -> Job | Ignored:
    installation = _installation(envelope, parsed.event, parsed.action)
    if isinstance(installation, Ignored):
        return installation
    comment_id = (
        validated(_CommentPayload, data, where, subject="").comment.id if parsed.event == "issue_comment" else None
    )
    return Job(
        delivery_id=delivery_id,
        event=parsed.event,
        action=parsed.action,
        repo=parsed.repo_name,
        number=parsed.number,
        purpose=parsed.purpose or "review",
        installation_id=installation,
        clone_url=envelope.repository.clone_url if envelope.repository else "",
        head_sha=parsed.pull.head_sha if parsed.pull else None,
        requested_by=parsed.requested_by,
        comment_id=comment_id,
        comment_at=parsed.comment_at.isoformat() if parsed.comment_at else None,
        named_sha=parsed.named_sha,
        seen_head=parsed.pull.head_sha if parsed.pull else None,
        head_at=_updated_at(data, where) if parsed.pull else None,
    )


def _updated_at(data: dict[str, Any], where: str) -> str | None:
    stamp: datetime | None = validated(_StampPayload, data, where, subject="").pull_request.updated_at
    if stamp is None:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_run(data: dict[str, Any], envelope: _Envelope, delivery_id: str, where: str, app_id: str) -> Job | Ignored:
    payload: _CheckRunPayload = validated(_CheckRunPayload, data, where, subject="")
    run = payload.check_run
    action = payload.action
    if action != "rerequested":
        return Ignored("check_run", action, "only a re-run request starts a job")
    purpose = run.name.removeprefix(CHECK_PREFIX)
    if not run.name.startswith(CHECK_PREFIX) or purpose not in PURPOSES:
        return Ignored("check_run", action, f"the check run {run.name!r} is not Guardrail's")
    if run.app is not None and run.app.is_not(app_id):
        return Ignored("check_run", action, f"the check run belongs to App {run.app.id}, not this one")
    if not run.pull_requests:
        return Ignored("check_run", action, "the check run names no pull request (a fork's head is not linked)")
    # pull_requests may list pull requests of other repositories (forks of a public one): only ours count
    own = [pull for pull in run.pull_requests if pull.in_repo(payload.repository.id)]
    if not own:
        return Ignored("check_run", action, "the check run names only pull requests of another repository")
    installation = _installation(envelope, "check_run", action)
    if isinstance(installation, Ignored):
        return installation
    return Job(
        delivery_id=delivery_id,
        event="check_run",
        action=action,
        repo=payload.repository.full_name,
        number=own[0].number,
        purpose=purpose,
        installation_id=installation,
        clone_url=payload.repository.clone_url,
        head_sha=run.head_sha,
    )
