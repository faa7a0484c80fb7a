"""The GitHub port: the only way the rest of Guardrail talks to GitHub.

The PyGithub adapter (``bot.github.pygithub_adapter``) implements it; tests drive it against a fake GitHub
server over real HTTP. Nothing outside the adapter imports PyGithub. Every method raises ``GitHubError`` (with the
HTTP status) when GitHub refuses after the adapter's retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.types import Annotation, CheckConclusion, CheckRunRef, DraftReviewComment, PostedComment, PullInfo


class GitHubPort(Protocol):
    """The handful of GitHub operations Guardrail needs. ``repo`` is always ``owner/name``."""

    def get_pull(self, repo: str, number: int) -> PullInfo: ...

    def get_pull_diff(self, repo: str, number: int) -> str:
        """The PR's unified diff (``Accept: application/vnd.github.diff``)."""
        ...

    def list_issue_comments(self, repo: str, number: int) -> list[PostedComment]: ...

    def create_issue_comment(self, repo: str, number: int, body: str) -> PostedComment: ...

    def update_issue_comment(self, repo: str, comment_id: int, body: str) -> PostedComment: ...

    def list_reviews(self, repo: str, number: int) -> list[PostedComment]: ...

    def create_review(
        self, repo: str, number: int, commit_sha: str, body: str, comments: Sequence[DraftReviewComment]
    ) -> PostedComment:
        """Create a submitted review with event ``COMMENT`` (Guardrail never approves or requests changes)."""
        ...

    def list_check_runs(self, repo: str, sha: str, name: str) -> list[CheckRunRef]: ...

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
        """Create a check run (completed when ``conclusion`` is given, else in progress); at most 50 annotations."""
        ...

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
        """Update a check run; annotations are appended by GitHub, at most 50 per call."""
        ...

    def get_permission(self, repo: str, user: str) -> str:
        """The user's permission on the repository: admin, maintain, write, triage, read or none."""
        ...
