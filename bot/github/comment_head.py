"""Which commit a ``/guardrail`` comment may have gated: the PR's head as it was when the comment was written.

A writer's comment authorises running the gates (the PR's code, in the jail) and a model on what the writer saw. A
commit pushed after the comment was not seen, so it is not gated on that comment's authority: a contributor cannot
wait for a maintainer's ``/guardrail patch`` and then push something else for it to run on.

GitHub gives no push time for a commit (the dates in a commit are the author's to choose, and the timeline's
``committed`` events carry only those), but every push updates the pull request's ``updated_at``, a server time;
the comment's ``created_at`` is a server time too, and the ``issue_comment`` delivery's ``issue.updated_at`` equals it
(tests/data/github/webhooks/issue_comment/created.json). So:

* the comment names a commit (``/guardrail patch 1a2b3c4``): that commit, if it belongs to the pull request (the
  writer named exactly what to gate; a later head is not gated, and the summary says so);
* else, when the pull request has not changed since the comment (``updated_at`` <= the comment's ``created_at``):
  the current head, which is the head the writer saw;
* else nothing is gated (fail closed): the head may have moved after the comment; the note says which commit is
  the head now, so the writer can name it in a new comment. Any later activity (another comment, a label) causes
  this too: GitHub does not tell a push apart from them.

``head_at_comment_time`` is pure: the Action resolves a named commit with git in its checkout, the App with the
REST API; both pass that lookup in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.types import PullInfo

# A named commit (a prefix of 7 to 40 hex digits) -> its full sha when it is a commit of the pull request, else None.
CommitLookup = Callable[[str], str | None]


@dataclass(frozen=True)
class CommentHead:
    """The commit to gate (None: nothing may be gated) and the sentence the summary shows about it."""

    sha: str | None
    note: str
    stale: bool = False  # True when ``sha`` is not the PR's current head (inline suggestions would be outdated)


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def head_at_comment_time(
    *,
    command: str,
    comment_at: datetime,
    current: PullInfo,
    named_sha: str | None = None,
    lookup: CommitLookup,
) -> CommentHead:
    """The head to gate for a ``/guardrail <command> [sha]`` comment written at ``comment_at`` (UTC), given the pull
    request as it is now (``current``, with GitHub's ``updated_at``). See the module's rules."""
    head = current.head_sha
    if named_sha is not None:
        full = lookup(named_sha)
        if full is None:
            return CommentHead(
                None,
                f"nothing was gated: {named_sha} is not a commit of this pull request (its head is {head[:12]}); "
                f"comment `/guardrail {command} <sha>` with one of its commits",
            )
        if full == head:
            return CommentHead(full, f"gated {full[:12]}, the commit the comment named (the pull request's head)")
        return CommentHead(
            full,
            f"gated {full[:12]}, the commit the comment named; the pull request's head is now {head[:12]}, which "
            f"was not gated on that comment's authority (comment `/guardrail {command} {head[:12]}` to gate it)",
            stale=True,
        )
    updated = current.updated_at
    if updated is not None and updated <= comment_at:
        return CommentHead(head, f"gated {head[:12]}, the pull request's head when the comment was written")
    changed = f"at {_time(updated)}" if updated is not None else "at an unknown time"
    return CommentHead(
        None,
        f"nothing was gated: the pull request changed {changed}, after the comment was written at "
        f"{_time(comment_at)}, so its head may have moved since, and a later push is not gated on that comment's "
        f"authority. The head is now {head[:12]}: comment `/guardrail {command} {head[:12]}` to gate it",
    )
