"""How Guardrail waits, retries and explains GitHub failures (PyGithub's own retry is switched off).

Policy (tests/data/github/FACTS.md §3, §6):

* Rate limits (403/429). ``x-ratelimit-remaining: 0`` → wait until ``x-ratelimit-reset``; else ``retry-after`` →
  wait that long; else a secondary-limit message → wait a minute, doubling on each repeat. A wait longer than
  ``max_wait`` is not taken: the call fails at once with a ``GitHubError`` saying when the limit resets. GitHub
  refused these requests without acting on them, so every kind of request is retried, creates included.
* 5xx and connection errors: retried with exponential backoff (1 s, 2 s, 4 s, ...) only when repeating the request
  cannot duplicate anything: GETs, and PATCHes that replace a value. A create (POST of a review, comment or check
  run) or a PATCH that appends check-run annotations is NOT retried after a 5xx, because GitHub may have applied it
  before failing; the error says so, and the caller's re-run finds what landed by its hidden marker and updates it
  instead of posting twice.
* Everything else fails at once as ``GitHubError(status=...)`` naming the operation and the likely cause.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import requests
from github import GithubException

from bot.errors import GitHubError

T = TypeVar("T")

SECONDARY_WAIT = 60.0  # GitHub: "wait at least one minute" when a secondary limit gives no retry-after
_RATE_LIMIT_WORDS = ("rate limit", "abuse detection")


@dataclass(frozen=True)
class Failure:
    """A failed GitHub request, whichever client made it. ``status`` is None when no response came back."""

    status: int | None
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 4
    max_wait: float = 60.0
    backoff: float = 1.0


@dataclass(frozen=True)
class Operation:
    """What is being done, for messages (``"create a review on acme/widgets#7"``), and how safe it is to repeat."""

    what: str
    repeatable: bool  # repeating after a 5xx cannot duplicate anything
    needs: str = ""  # the token permission the call needs, e.g. "pull-requests: write"


def failure_of(exc: BaseException) -> Failure | None:
    """The ``Failure`` behind a PyGithub, httpx or requests exception; None for anything else."""
    if isinstance(exc, GithubException):
        data = exc.data if isinstance(exc.data, dict) else {}
        message = str(data.get("message") or exc.message or exc.data or "")
        return Failure(exc.status, message, _lower(exc.headers), _error_texts(data.get("errors")))
    if isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        try:
            data = response.json()
        except ValueError:
            data = {"message": response.text[:500]}
        data = data if isinstance(data, dict) else {}
        message = str(data.get("message", ""))
        return Failure(response.status_code, message, _lower(response.headers), _error_texts(data.get("errors")))
    if isinstance(exc, (requests.RequestException, httpx.TransportError)):
        return Failure(None, f"{type(exc).__name__}: {exc}")
    return None


def _lower(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {k.lower(): str(v) for k, v in (headers or {}).items()}


def _error_texts(errors: Any) -> tuple[str, ...]:
    if not isinstance(errors, list):
        return ()
    return tuple(e if isinstance(e, str) else str(e.get("message") or e.get("code") or e) for e in errors)


def is_rate_limited(failure: Failure) -> bool:
    if failure.status not in (403, 429):
        return False
    message = failure.message.lower()
    return (
        failure.headers.get("x-ratelimit-remaining") == "0"
        or "retry-after" in failure.headers
        or any(word in message for word in _RATE_LIMIT_WORDS)
    )


def rate_limit_wait(failure: Failure, now: float, attempt: int = 0) -> float:
    """Seconds GitHub asks us to wait before repeating a rate-limited request (the ``attempt``-th repeat)."""
    if failure.headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in failure.headers:
        return max(float(failure.headers["x-ratelimit-reset"]) - now, 0.0) + 1.0
    if "retry-after" in failure.headers:
        return float(failure.headers["retry-after"])
    return SECONDARY_WAIT * 2.0**attempt  # GitHub: at least a minute, then back off exponentially


def call_with_retries(
    op: Operation,
    fn: Callable[[], T],
    *,
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    clock: Callable[[], float] = time.time,
) -> T:
    """Run ``fn`` under the policy above; every failure that is not retried becomes a ``GitHubError``."""
    attempt = 0
    while True:
        try:
            return fn()
        except (GithubException, httpx.HTTPError, requests.RequestException) as exc:
            failure = failure_of(exc)
            if failure is None:
                raise
            wait = _wait_before_retry(op, failure, attempt, policy, clock())
            if wait is None:
                raise explain(op, failure, attempts=attempt + 1) from exc
            sleep(wait)
            attempt += 1


def _wait_before_retry(op: Operation, failure: Failure, attempt: int, policy: RetryPolicy, now: float) -> float | None:
    if attempt >= policy.retries:
        return None
    if is_rate_limited(failure):
        wait = rate_limit_wait(failure, now, attempt)
        if wait > policy.max_wait:
            cause = (
                f"Rate limited by GitHub; the limit resets {_reset_time(failure)}: waiting {wait:.0f} s is more"
                f" than the {policy.max_wait:.0f} s allowed. Run again after the reset."
            )
            raise explain(op, failure, cause=cause)
        return wait
    transient = failure.status is None or failure.status >= 500
    if transient and op.repeatable:
        retry_after = failure.headers.get("retry-after")
        return min(float(retry_after) if retry_after else policy.backoff * 2.0**attempt, policy.max_wait)
    return None


def explain(op: Operation, failure: Failure, *, attempts: int = 1, cause: str | None = None) -> GitHubError:
    """A ``GitHubError`` whose message names the operation, what GitHub said and the likely cause."""
    said = f"GitHub answered {failure.status} {failure.message!r}" if failure.status else failure.message
    if failure.errors:
        said += ": " + "; ".join(failure.errors)
    return GitHubError(f"{op.what}: {said}. {cause or _cause(op, failure, attempts)}", status=failure.status)


def _reset_time(failure: Failure) -> str:
    reset = failure.headers.get("x-ratelimit-reset")
    if reset and failure.headers.get("x-ratelimit-remaining") == "0":
        return time.strftime("at %H:%M:%S UTC", time.gmtime(float(reset)))
    return f"in {failure.headers.get('retry-after', f'{SECONDARY_WAIT:.0f}')} s"


def _cause(op: Operation, failure: Failure, attempts: int) -> str:
    status = failure.status
    if is_rate_limited(failure):
        return f"Still rate limited after {attempts} attempt(s); the limit resets {_reset_time(failure)}."
    if status is None:
        return f"Could not reach GitHub after {attempts} attempt(s): check the API URL and the network."
    if status == 401:
        return "The token is wrong or expired (installation tokens last one hour): check the token Guardrail was given."
    if status == 403 and "not accessible by integration" in failure.message.lower():
        needs = f" It needs {op.needs}." if op.needs else ""
        return (
            "The token may not do this: it is read-only here, as the GITHUB_TOKEN of a pull request from a fork always"
            f" is.{needs} Grant it in the workflow's `permissions:`, or run Guardrail as a GitHub App for fork PRs."
        )
    if status == 404:
        return "No such repository or pull request, or the token cannot see it (a private repository needs access)."
    if status == 406:
        return "GitHub will not produce this diff (over 300 files or 20,000 lines); review a smaller pull request."
    if status == 422:
        return "GitHub refused the content of the request; nothing was posted."
    if status >= 500 and not op.repeatable:
        return (
            "Not retried: GitHub may have applied it before failing. Re-run Guardrail; it finds what landed by its"
            " marker and updates it instead of posting twice."
        )
    if status >= 500:
        return f"GitHub kept failing after {attempts} attempt(s); try again later (githubstatus.com)."
    return "See GitHub's message above."
