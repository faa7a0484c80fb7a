"""Fake GitHub endpoints for repositories, pull requests, their diff and files, issue comments and reviews."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from . import github_shapes as shapes
from .github_diff import comment_outside_diff
from .github_http import Call, Reply, now, paginate

if TYPE_CHECKING:
    from .github_server import FakeGitHub, PullState

# The real 422 body of POST .../reviews when a comment's lines are not in the diff (FACTS.md §4.1).
NOT_IN_DIFF = (
    "Pull request review thread line must be part of the diff, Pull request review thread start line must be part"
    " of the same hunk as the line., and Pull request review thread diff hunk can't be blank"
)
# The real 406 for a diff GitHub will not render (FACTS.md §4.2).
DIFF_TOO_LARGE = (
    "Sorry, the diff exceeded the maximum number of files (300). Consider using 'List pull requests files' API or"
    " locally cloning the repository instead."
)


def get_repo(call: Call) -> Reply:
    repo = call.fake.repos.get(call.repo)
    return Reply(200, repo) if repo else call.not_found()


def get_pull(call: Call) -> Reply:
    pull = call.pull()
    if pull is None:
        return call.not_found()
    if "diff" in call.accept and pull.diff_too_large:
        error = {"resource": "PullRequest", "field": "diff", "code": "too_large"}
        return call.error(406, DIFF_TOO_LARGE, [error])
    if "diff" in call.accept:
        # No recorded raw-diff response exists (FACTS §8); GitHub answers with the diff media type.
        return Reply(200, pull.diff, {"content-type": "application/vnd.github.diff; charset=utf-8"})
    return Reply(200, pull.data)


def list_files(call: Call) -> Reply:
    pull = call.pull()
    if pull is None:
        return call.not_found()
    template = shapes.retarget(shapes.example("pulls/list-files", "200")[0], call.fake.base_url, call.repo)
    head_sha = pull.data["head"]["sha"]
    entries = []
    for diff in pull.files.values():
        entry = shapes.retarget(template, call.fake.base_url, call.repo)
        text = _swap(entry, "6dcb09b5b57875f334f61aebed695e2e4193db5e", head_sha)
        entry = _swap(text, "file1.txt", diff.path)
        entry |= {"filename": diff.path, "status": diff.status, "additions": diff.additions}
        entry |= {"deletions": diff.deletions, "changes": diff.additions + diff.deletions, "patch": diff.patch}
        if diff.status == "renamed":
            entry["previous_filename"] = diff.old_path
        entries.append(entry)
    return paginate(call, entries)


def _swap(obj: Any, old: str, new: str) -> Any:
    return json.loads(json.dumps(obj).replace(old, new))


# ---- issue comments --------------------------------------------------------------------------------------------


def list_issue_comments(call: Call) -> Reply:
    pull = call.pull()
    return paginate(call, pull.issue_comments) if pull else call.not_found()


def create_issue_comment(call: Call) -> Reply:
    pull = call.pull()
    if pull is None:
        return call.not_found()
    text = call.json.get("body")
    if not isinstance(text, str):
        return call.invalid('"body" wasn\'t supplied.')
    if refused := call.too_long("IssueComment", text):
        return refused
    comment = new_issue_comment(call.fake, pull, text, call.login)
    return Reply(201, comment, {"location": comment["url"]})


def new_issue_comment(fake: FakeGitHub, pull: PullState, text: str, login: str) -> dict[str, Any]:
    """Add an issue comment by ``login`` to the PR, shaped like the ``issues/create-comment`` example."""
    comment_id = next(fake.ids)
    comment = shapes.retarget(shapes.example("issues/create-comment", "201"), fake.base_url, pull.repo)
    comment = shapes.renumber(comment, 1347, pull.number) | {
        "id": comment_id,
        "node_id": f"IC_fake{comment_id}",
        "url": f"{fake.base_url}/repos/{pull.repo}/issues/comments/{comment_id}",
        "html_url": f"https://github.com/{pull.repo}/pull/{pull.number}#issuecomment-{comment_id}",
        "body": text,
        "user": fake.user(login),
        "created_at": now(),
        "updated_at": now(),
        "author_association": "NONE",
    }
    pull.issue_comments.append(comment)
    return comment


def update_issue_comment(call: Call) -> Reply:
    wanted = int(call.params["comment_id"])
    pulls = [p for (repo, _), p in call.fake.pulls.items() if repo == call.repo]
    comment = next((c for p in pulls for c in p.issue_comments if c["id"] == wanted), None)
    if comment is None:
        return call.not_found()
    text = call.json.get("body")
    if not isinstance(text, str):
        return call.invalid('"body" wasn\'t supplied.')
    if refused := call.too_long("IssueComment", text):
        return refused
    comment |= {"body": text, "updated_at": now()}
    return Reply(200, comment)


# ---- reviews ---------------------------------------------------------------------------------------------------


def list_reviews(call: Call) -> Reply:
    pull = call.pull()
    return paginate(call, pull.reviews) if pull else call.not_found()


def list_review_comments(call: Call) -> Reply:
    pull = call.pull()
    return paginate(call, pull.review_comments) if pull else call.not_found()


def create_review(call: Call) -> Reply:
    pull = call.pull()
    if pull is None:
        return call.not_found()
    body = call.json
    event = body.get("event")
    if event not in (None, "APPROVE", "REQUEST_CHANGES", "COMMENT"):
        return call.invalid(f"{event!r} is not a member of the review event enum.")
    if refused := call.too_long("PullRequestReview", body.get("body")):
        return refused
    comments = body.get("comments") or []
    for comment in comments:
        if refused := call.too_long("PullRequestReviewComment", comment.get("body")):
            return refused
        if comment_outside_diff(pull.files, comment):
            return call.error(422, "Unprocessable Entity", [NOT_IN_DIFF])
    review_id = next(call.fake.ids)
    state = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}.get(
        event, "PENDING"
    )
    review = shapes.retarget(shapes.example("pulls/create-review", "200"), call.fake.base_url, call.repo)
    review = shapes.renumber(review, 12, pull.number) | {
        "id": review_id,
        "node_id": f"PRR_fake{review_id}",
        "user": call.fake.user(call.login),
        "body": body.get("body") or "",
        "state": state,
        "html_url": f"https://github.com/{call.repo}/pull/{pull.number}#pullrequestreview-{review_id}",
        "submitted_at": None if state == "PENDING" else now(),
        "commit_id": body.get("commit_id") or pull.data["head"]["sha"],
        "author_association": "NONE",
    }
    review["_links"]["html"]["href"] = review["html_url"]
    pull.reviews.append(review)
    pull.review_comments.extend(_review_comment(call, pull, review, c) for c in comments)
    return Reply(200, review)


def _review_comment(call: Call, pull: PullState, review: dict[str, Any], draft: dict[str, Any]) -> dict[str, Any]:
    comment_id = next(call.fake.ids)
    comment = shapes.retarget(shapes.example("pulls/list-review-comments", "200")[0], call.fake.base_url, call.repo)
    comment = shapes.renumber(comment, 1, pull.number)
    comment.pop("in_reply_to_id", None)
    side = draft.get("side") or "RIGHT"
    hunk = pull.files[draft["path"]].hunk_of(draft["line"], side)
    position = pull.files[draft["path"]].position_of(draft["line"], side)
    url = f"{call.fake.base_url}/repos/{call.repo}/pulls/comments/{comment_id}"
    html_url = f"https://github.com/{call.repo}/pull/{pull.number}#discussion_r{comment_id}"
    start = draft.get("start_line")
    return comment | {
        "url": url,
        "id": comment_id,
        "node_id": f"PRRC_fake{comment_id}",
        "pull_request_review_id": review["id"],
        "diff_hunk": "\n".join([hunk.header, *hunk.lines]) if hunk else "",
        "path": draft["path"],
        "position": position,
        "original_position": position,
        "commit_id": review["commit_id"],
        "original_commit_id": review["commit_id"],
        "user": review["user"],
        "body": draft.get("body", ""),
        "created_at": now(),
        "updated_at": now(),
        "html_url": html_url,
        "author_association": "NONE",
        "_links": comment["_links"] | {"self": {"href": url}, "html": {"href": html_url}},
        "start_line": start,
        "original_start_line": start,
        "start_side": (draft.get("start_side") or side) if start else None,
        "line": draft["line"],
        "original_line": draft["line"],
        "side": side,
    }
