"""The GitHub port implemented with PyGithub: the one module that turns GitHub objects into Guardrail's values.

Every call runs under ``bot.github.retry`` (PyGithub's own retry and client-side throttling are off): rate limits
are waited out up to ``max_wait``, 5xx are retried only where repeating cannot post twice, and every failure
becomes a ``GitHubError`` naming the operation and the likely cause. Nothing PyGithub returns leaves this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from github import Auth, Github
from github.PullRequest import ReviewComment

from bot.github.port import GitHubPort
from bot.github.retry import Operation, RetryPolicy, call_with_retries
from bot.types import Annotation, CheckConclusion, CheckRunRef, DraftReviewComment, PostedComment, PullInfo

T = TypeVar("T")

MAX_ANNOTATIONS_PER_REQUEST = 50  # GitHub refuses more in one check-run request (FACTS.md §5)
_ISSUES = "`issues: write` (or `pull-requests: write`)"
_PULLS = "`pull-requests: write`"
_CHECKS = "`checks: write`"


class PyGithubAdapter(GitHubPort):
    """``GitHubPort`` over PyGithub. ``sleep`` is injectable so tests can record waits instead of taking them."""

    def __init__(
        self,
        token: str,
        base_url: str = "https://api.github.com",
        *,
        max_wait: float = 60,
        retries: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30,
    ) -> None:
        self._token = token
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._policy = RetryPolicy(retries=retries, max_wait=max_wait)
        self._sleep = sleep
        self._gh = Github(
            auth=Auth.Token(token),
            base_url=self._base_url,
            timeout=int(timeout),
            lazy=True,
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
        )

    def _call(self, op: Operation, fn: Callable[[], T]) -> T:
        return call_with_retries(op, fn, policy=self._policy, sleep=self._sleep)

    # ---- pull requests -----------------------------------------------------------------------------------------

    def get_pull(self, repo: str, number: int) -> PullInfo:
        def fetch() -> PullInfo:
            pull = self._gh.get_repo(repo).get_pull(number)
            head_repo = pull.head.repo  # None once the fork the PR came from was deleted
            return PullInfo(
                repo_name=pull.base.repo.full_name,
                number=pull.number,
                base_ref=pull.base.ref,
                base_sha=pull.base.sha,
                head_ref=pull.head.ref,
                head_sha=pull.head.sha,
                head_repo_name=head_repo.full_name if head_repo is not None else "",
                title=pull.title or "",
                body=pull.body or "",
                draft=bool(pull.draft),
                updated_at=pull.updated_at,
            )

        return self._call(Operation(f"read pull request {repo}#{number}", repeatable=True), fetch)

    def get_pull_diff(self, repo: str, number: int) -> str:
        """The PR's unified diff; PyGithub has no helper for the diff media type, so this one call uses httpx."""

        def fetch() -> str:
            headers = {
                "Authorization": f"token {self._token}",
                "Accept": "application/vnd.github.diff",
                "User-Agent": "guardrail",
            }
            url = f"{self._base_url}/repos/{repo}/pulls/{number}"
            with httpx.Client(timeout=self._timeout) as client:
                response = client.get(url, headers=headers)
            response.raise_for_status()
            return response.text

        return self._call(Operation(f"download the diff of {repo}#{number}", repeatable=True), fetch)

    # ---- issue (conversation) comments -------------------------------------------------------------------------

    def list_issue_comments(self, repo: str, number: int) -> list[PostedComment]:
        def fetch() -> list[PostedComment]:
            comments = self._gh.get_repo(repo).get_issue(number).get_comments()
            return [PostedComment(id=c.id, body=c.body or "", author=c.user.login if c.user else "") for c in comments]

        return self._call(Operation(f"list the comments of {repo}#{number}", repeatable=True), fetch)

    def create_issue_comment(self, repo: str, number: int, body: str) -> PostedComment:
        def post() -> PostedComment:
            comment = self._gh.get_repo(repo).get_issue(number).create_comment(body)
            return PostedComment(id=comment.id, body=comment.body or "", author=comment.user.login)

        op = Operation(f"comment on {repo}#{number}", repeatable=False, needs=_ISSUES)
        return self._call(op, post)

    def update_issue_comment(self, repo: str, comment_id: int, body: str) -> PostedComment:
        def patch() -> PostedComment:
            # PyGithub reaches a single issue comment only through its issue; the REST path needs just the id.
            _, data = self._gh.requester.requestJsonAndCheck(
                "PATCH", f"/repos/{repo}/issues/comments/{comment_id}", input={"body": body}
            )
            return _posted(data)

        op = Operation(f"update comment {comment_id} in {repo}", repeatable=True, needs=_ISSUES)
        return self._call(op, patch)

    # ---- reviews -----------------------------------------------------------------------------------------------

    def list_reviews(self, repo: str, number: int) -> list[PostedComment]:
        def fetch() -> list[PostedComment]:
            reviews = self._gh.get_repo(repo).get_pull(number).get_reviews()
            return [
                PostedComment(id=r.id, body=r.body or "", author=r.user.login if r.user else "", commit_id=r.commit_id)
                for r in reviews
            ]

        return self._call(Operation(f"list the reviews of {repo}#{number}", repeatable=True), fetch)

    def create_review(
        self, repo: str, number: int, commit_sha: str, body: str, comments: Sequence[DraftReviewComment]
    ) -> PostedComment:
        """Create a submitted review with event ``COMMENT`` (Guardrail never approves or requests changes)."""

        def post() -> PostedComment:
            gh_repo = self._gh.get_repo(repo)
            review = gh_repo.get_pull(number).create_review(
                commit=gh_repo.get_commit(commit_sha),  # lazy: no request, only its sha is sent
                body=body,
                event="COMMENT",
                comments=[_review_comment(c) for c in comments],
            )
            return PostedComment(
                id=review.id, body=review.body or "", author=review.user.login, commit_id=review.commit_id
            )

        op = Operation(f"post a review on {repo}#{number}", repeatable=False, needs=_PULLS)
        return self._call(op, post)

    # ---- check runs --------------------------------------------------------------------------------------------

    def list_check_runs(self, repo: str, sha: str, name: str) -> list[CheckRunRef]:
        def fetch() -> list[CheckRunRef]:
            runs = self._gh.get_repo(repo).get_commit(sha).get_check_runs(check_name=name)
            return [
                CheckRunRef(id=r.id, name=r.name, head_sha=r.head_sha, external_id=r.external_id or "") for r in runs
            ]

        return self._call(Operation(f"list check runs {name!r} of {repo}@{sha[:12]}", repeatable=True), fetch)

    def create_check_run(
        self,
        repo: str,
        sha: str,
        name: str,
        *,
        title: str,
        summary: str,
        conclusion: CheckConclusion | None,
        annotations: Sequence[Annotation] = (),
        external_id: str = "",
    ) -> CheckRunRef:
        """Create a check run; annotations beyond GitHub's 50 per request follow in PATCHes to the same run."""
        first, rest = annotations[:MAX_ANNOTATIONS_PER_REQUEST], annotations[MAX_ANNOTATIONS_PER_REQUEST:]

        def post() -> CheckRunRef:
            extra: dict[str, Any] = {"external_id": external_id} if external_id else {}
            if conclusion is not None and not rest:
                extra |= {"status": "completed", "conclusion": conclusion, "completed_at": datetime.now(UTC)}
            else:
                extra["status"] = "in_progress"
            run = self._gh.get_repo(repo).create_check_run(
                name=name, head_sha=sha, output=_output(title, summary, first), **extra
            )
            return CheckRunRef(id=run.id, name=run.name, head_sha=run.head_sha, external_id=run.external_id or "")

        op = Operation(f"create check run {name!r} on {repo}@{sha[:12]}", repeatable=False, needs=_CHECKS)
        ref = self._call(op, post)
        if rest:
            self.update_check_run(repo, ref.id, title=title, summary=summary, conclusion=conclusion, annotations=rest)
        return ref

    def update_check_run(
        self,
        repo: str,
        check_run_id: int,
        *,
        title: str,
        summary: str,
        conclusion: CheckConclusion | None,
        annotations: Sequence[Annotation] = (),
    ) -> None:
        """Update a check run; GitHub appends annotations, so they are sent 50 per request, the conclusion last."""
        size = MAX_ANNOTATIONS_PER_REQUEST
        batches = [annotations[i : i + size] for i in range(0, len(annotations), size)] or [()]
        for index, batch in enumerate(batches):
            last = index == len(batches) - 1
            fields: dict[str, Any] = {"output": _output(title, summary, batch)}
            if last and conclusion is not None:
                fields |= {"status": "completed", "conclusion": conclusion, "completed_at": datetime.now(UTC)}

            def patch(fields: dict[str, Any] = fields) -> None:
                self._gh.get_repo(repo).get_check_run(check_run_id).edit(**fields)

            # A PATCH that appends annotations may have landed before a 5xx: repeating it would duplicate them.
            op = Operation(f"update check run {check_run_id} in {repo}", repeatable=not batch, needs=_CHECKS)
            self._call(op, patch)

    # ---- permissions -------------------------------------------------------------------------------------------

    def get_permission(self, repo: str, user: str) -> str:
        """The user's permission on the repository: admin, maintain, write, triage, read or none."""
        op = Operation(f"read {user}'s permission on {repo}", repeatable=True)
        return self._call(op, lambda: str(self._gh.get_repo(repo).get_collaborator_permission(user)))


def _review_comment(draft: DraftReviewComment) -> ReviewComment:
    comment: ReviewComment = {"path": draft.path, "body": draft.body, "line": draft.line, "side": draft.side}
    if draft.start_line is not None:
        comment["start_line"] = draft.start_line
        comment["start_side"] = draft.start_side or draft.side
    return comment


def _output(title: str, summary: str, annotations: Sequence[Annotation]) -> dict[str, Any]:
    output: dict[str, Any] = {"title": title, "summary": summary}
    if annotations:
        output["annotations"] = [_annotation(a) for a in annotations]
    return output


def _annotation(annotation: Annotation) -> dict[str, str | int]:
    sent: dict[str, str | int] = {
        "path": annotation.path,
        "start_line": annotation.start_line,
        "end_line": annotation.end_line,
        "annotation_level": annotation.level,
        "message": annotation.message,
    }
    if annotation.title:
        sent["title"] = annotation.title[:255]  # GitHub's limit for an annotation title
    return sent


def _posted(data: Any) -> PostedComment:
    user = data.get("user") or {}
    return PostedComment(id=int(data["id"]), body=data.get("body") or "", author=str(user.get("login", "")))
