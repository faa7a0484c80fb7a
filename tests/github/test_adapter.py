"""The PyGithub adapter against the fake GitHub over real HTTP: round trips, rate limits, retries, clear errors."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from bot.errors import GitHubError
from bot.github.app_auth import AppCredentials, installation_for_repo, installation_token
from bot.github.pygithub_adapter import PyGithubAdapter
from bot.types import Annotation, DraftReviewComment, PostedComment
from tests.fakes.github_server import SECONDARY_RATE_LIMIT_MESSAGE, FakeGitHub

REPO = "acme/widgets"
BASE, HEAD = "a" * 40, "b" * 40
DIFF = """diff --git a/pkg/mod.py b/pkg/mod.py
index 1111111..2222222 100644
--- a/pkg/mod.py
+++ b/pkg/mod.py
@@ -1,4 +1,5 @@
 import os
-x = 1
+x = 2
+y = 3
 print(x)
 print(os.sep)
@@ -20,3 +21,3 @@ def main():
 a = 1
-b = 2
+b = 3
 c = 4
"""
REVIEWS = "/repos/acme/widgets/pulls/7/reviews"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        server.add_pull(REPO, 7, base_sha=BASE, head_sha=HEAD, diff_text=DIFF, title="Fix x", body="Closes #1")
        server.add_pull(REPO, 8, base_sha=BASE, head_sha="c" * 40, diff_text=DIFF, head_repo="forker/widgets")
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def adapter(fake: FakeGitHub, sleeps: list[float]) -> PyGithubAdapter:
    return PyGithubAdapter(fake.token, fake.base_url, sleep=sleeps.append)


def _comments() -> list[DraftReviewComment]:
    return [
        DraftReviewComment(path="pkg/mod.py", line=2, body="Why 2?"),
        DraftReviewComment(path="pkg/mod.py", line=3, start_line=2, body="```suggestion\nx = y = 2\n```"),
    ]


def test_get_pull_tells_same_repo_from_fork(adapter: PyGithubAdapter) -> None:
    pull = adapter.get_pull(REPO, 7)
    assert (pull.repo_name, pull.number, pull.base_sha, pull.head_sha) == (REPO, 7, BASE, HEAD)
    assert (pull.base_ref, pull.head_ref, pull.title, pull.body) == ("main", "feature", "Fix x", "Closes #1")
    assert not pull.is_fork
    fork = adapter.get_pull(REPO, 8)
    assert fork.head_repo_name == "forker/widgets" and fork.is_fork


def test_get_pull_diff_asks_for_the_diff_media_type(adapter: PyGithubAdapter, fake: FakeGitHub) -> None:
    assert adapter.get_pull_diff(REPO, 7) == DIFF
    (sent,) = fake.requests_to("GET", "/repos/acme/widgets/pulls/7")
    assert sent.headers["accept"] == "application/vnd.github.diff"
    assert sent.headers["authorization"] == f"token {fake.token}"


def test_too_large_diff_is_explained(adapter: PyGithubAdapter, fake: FakeGitHub) -> None:
    fake.add_pull(REPO, 9, base_sha=BASE, head_sha=HEAD, diff_text=DIFF, diff_too_large=True)
    with pytest.raises(GitHubError) as caught:
        adapter.get_pull_diff(REPO, 9)
    assert caught.value.status == 406 and "maximum number of files (300)" in str(caught.value)


def test_issue_comments_round_trip(adapter: PyGithubAdapter, fake: FakeGitHub) -> None:
    posted = adapter.create_issue_comment(REPO, 7, "<!-- guardrail -->\nfirst")
    assert posted.body.endswith("first") and posted.author == "github-actions[bot]"
    updated = adapter.update_issue_comment(REPO, posted.id, "<!-- guardrail -->\nsecond")
    assert updated == PostedComment(id=posted.id, body="<!-- guardrail -->\nsecond", author="github-actions[bot]")
    assert adapter.list_issue_comments(REPO, 7) == [updated]
    assert [c["body"] for c in fake.issue_comments(REPO, 7)] == ["<!-- guardrail -->\nsecond"]


def test_issue_comments_follow_pagination(adapter: PyGithubAdapter, fake: FakeGitHub) -> None:
    for n in range(35):  # more than PyGithub's 30 per page
        fake.add_issue_comment(REPO, 7, f"c{n}", author="someone")
    assert adapter.list_issue_comments(REPO, 7)[0].author == "someone"
    assert [c.body for c in adapter.list_issue_comments(REPO, 7)] == [f"c{n}" for n in range(35)]


def test_create_review_posts_one_comment_review_with_line_and_side(adapter: PyGithubAdapter, fake: FakeGitHub) -> None:
    review = adapter.create_review(REPO, 7, HEAD, "Guardrail review", _comments())
    assert review.commit_id == HEAD and review.body == "Guardrail review"
    (sent,) = fake.requests_to("POST", REVIEWS)
    assert sent.body["event"] == "COMMENT" and sent.body["commit_id"] == HEAD
    assert sent.body["comments"][1] == {
        "path": "pkg/mod.py",
        "body": "```suggestion\nx = y = 2\n```",
        "line": 3,
        "side": "RIGHT",
        "start_line": 2,
        "start_side": "RIGHT",
    }
    (stored,) = fake.reviews(REPO, 7)
    assert stored["state"] == "COMMENTED"
    assert [(c["line"], c["start_line"], c["side"]) for c in stored["comments"]] == [
        (2, None, "RIGHT"),
        (3, 2, "RIGHT"),
    ]
    assert adapter.list_reviews(REPO, 7) == [review]


def test_check_run_with_more_than_50_annotations_is_sent_in_batches(adapter: PyGithubAdapter, fake: FakeGitHub) -> None:
    notes = [Annotation("pkg/mod.py", n, n, "warning", f"note {n}") for n in range(1, 121)]
    ref = adapter.create_check_run(
        REPO, HEAD, "guardrail", title="Guardrail", summary="120 notes", conclusion="failure", annotations=notes
    )
    (run,) = fake.check_runs(REPO)
    assert [a["message"] for a in run["annotations"]] == [f"note {n}" for n in range(1, 121)]
    assert (run["status"], run["conclusion"], run["id"]) == ("completed", "failure", ref.id)
    sent = fake.requests_to("POST", "/repos/acme/widgets/check-runs") + fake.requests_to("PATCH", "*/check-runs/*")
    assert [len(r.body["output"]["annotations"]) for r in sent] == [50, 50, 20]
    assert "conclusion" not in sent[0].body and sent[-1].body["conclusion"] == "failure"
    assert adapter.list_check_runs(REPO, HEAD, "guardrail") == [ref]
    assert adapter.list_check_runs(REPO, HEAD, "other") == []


def test_update_check_run_completes_it(adapter: PyGithubAdapter, fake: FakeGitHub) -> None:
    ref = adapter.create_check_run(REPO, HEAD, "guardrail", title="Running", summary="...", conclusion=None)
    assert fake.check_runs(REPO)[0]["status"] == "in_progress"
    adapter.update_check_run(REPO, ref.id, title="Done", summary="all good", conclusion="success")
    (run,) = fake.check_runs(REPO)
    assert (run["conclusion"], run["output"]["title"], run["output"]["summary"]) == ("success", "Done", "all good")


def test_get_permission(adapter: PyGithubAdapter, fake: FakeGitHub) -> None:
    fake.set_permission(REPO, "maintainer", "write")
    assert adapter.get_permission(REPO, "maintainer") == "write"
    assert adapter.get_permission(REPO, "stranger") == "read"


def test_secondary_rate_limit_waits_retry_after_then_posts_once(
    adapter: PyGithubAdapter, fake: FakeGitHub, sleeps: list[float]
) -> None:
    fake.fail_secondary_rate_limit("POST", REVIEWS, retry_after=3)
    adapter.create_review(REPO, 7, HEAD, "Guardrail review", _comments())
    assert sleeps == [3.0]
    assert [r.status for r in fake.requests_to("POST", REVIEWS)] == [403, 200]
    assert len(fake.reviews(REPO, 7)) == 1


def test_secondary_rate_limit_without_retry_after_waits_a_minute_then_gives_up(
    adapter: PyGithubAdapter, fake: FakeGitHub, sleeps: list[float]
) -> None:
    body = {"message": SECONDARY_RATE_LIMIT_MESSAGE, "documentation_url": "https://docs.github.com/rest"}
    fake.fail_next("POST", "/repos/acme/widgets/issues/7/comments", 403, body=body, times=2)
    with pytest.raises(GitHubError) as caught:
        adapter.create_issue_comment(REPO, 7, "hello")
    assert sleeps == [60.0]  # the next wait, 120 s, is over max_wait
    assert caught.value.status == 403 and "Rate limited by GitHub" in str(caught.value)
    assert fake.issue_comments(REPO, 7) == []


def test_primary_rate_limit_waits_until_reset(adapter: PyGithubAdapter, fake: FakeGitHub, sleeps: list[float]) -> None:
    fake.fail_primary_rate_limit("GET", "/repos/acme/widgets/pulls/7", reset_in=20, status=429)
    assert adapter.get_pull(REPO, 7).head_sha == HEAD
    assert len(sleeps) == 1 and 19 <= sleeps[0] <= 22


def test_primary_rate_limit_beyond_max_wait_fails_saying_when_it_resets(fake: FakeGitHub, sleeps: list[float]) -> None:
    adapter = PyGithubAdapter(fake.token, fake.base_url, max_wait=10, sleep=sleeps.append)
    fake.fail_primary_rate_limit("GET", "/repos/acme/widgets/pulls/7", reset_in=600)
    with pytest.raises(GitHubError) as caught:
        adapter.get_pull(REPO, 7)
    assert caught.value.status == 403 and sleeps == []
    assert re.search(r"resets at \d\d:\d\d:\d\d UTC", str(caught.value)), str(caught.value)
    assert len(fake.requests) == 1


def test_502_on_get_is_retried_with_backoff(adapter: PyGithubAdapter, fake: FakeGitHub, sleeps: list[float]) -> None:
    fake.fail_next("GET", "/repos/acme/widgets/pulls/7", 502, times=2, body={"message": "Server Error"})
    assert adapter.get_pull(REPO, 7).number == 7
    assert sleeps == [1.0, 2.0]


def test_persistent_5xx_gives_up_after_the_retries(fake: FakeGitHub, sleeps: list[float]) -> None:
    adapter = PyGithubAdapter(fake.token, fake.base_url, retries=3, sleep=sleeps.append)
    fake.fail_next("GET", "/repos/acme/widgets/issues/7/comments", 503, times=10, body={"message": "Unavailable"})
    with pytest.raises(GitHubError) as caught:
        adapter.list_issue_comments(REPO, 7)
    assert caught.value.status == 503 and sleeps == [1.0, 2.0, 4.0]
    assert "after 4 attempt(s)" in str(caught.value)


def test_502_after_a_create_landed_is_not_retried(adapter: PyGithubAdapter, fake: FakeGitHub) -> None:
    fake.fail_next("POST", "/repos/acme/widgets/issues/7/comments", 502, apply=True, body={"message": "Bad Gateway"})
    with pytest.raises(GitHubError) as caught:
        adapter.create_issue_comment(REPO, 7, "hello")
    assert caught.value.status == 502 and "Not retried" in str(caught.value)
    assert len(fake.requests_to("POST", "/repos/acme/widgets/issues/7/comments")) == 1
    assert len(fake.issue_comments(REPO, 7)) == 1  # it did land: posting again would have duplicated it


def test_review_comment_outside_the_diff_is_refused_with_githubs_message(
    adapter: PyGithubAdapter, fake: FakeGitHub
) -> None:
    outside = [DraftReviewComment(path="pkg/mod.py", line=40, body="not in any hunk")]
    with pytest.raises(GitHubError) as caught:
        adapter.create_review(REPO, 7, HEAD, "review", outside)
    assert caught.value.status == 422
    assert "Pull request review thread line must be part of the diff" in str(caught.value)
    assert len(fake.requests_to("POST", REVIEWS)) == 1 and fake.reviews(REPO, 7) == []


def test_multi_line_range_across_hunks_is_refused(adapter: PyGithubAdapter) -> None:
    within = DraftReviewComment(path="pkg/mod.py", line=4, start_line=2, start_side="LEFT", body="ok")
    adapter.create_review(REPO, 7, HEAD, "fine", [within])
    across = DraftReviewComment(path="pkg/mod.py", line=22, start_line=3, body="spans two hunks")
    with pytest.raises(GitHubError) as caught:
        adapter.create_review(REPO, 7, HEAD, "review", [across])
    assert caught.value.status == 422
    with pytest.raises(GitHubError):
        adapter.create_review(REPO, 7, HEAD, "review", [DraftReviewComment("not/in/diff.py", 1, "x")])


def test_read_only_token_names_the_permissions_needed(fake: FakeGitHub) -> None:
    fake.grant("fork-token", "read")
    adapter = PyGithubAdapter("fork-token", fake.base_url, sleep=lambda _: None)
    assert adapter.get_pull(REPO, 8).is_fork  # reading works
    with pytest.raises(GitHubError) as review:
        adapter.create_review(REPO, 8, "c" * 40, "review", [])
    assert review.value.status == 403 and "pull-requests: write" in str(review.value) and "fork" in str(review.value)
    with pytest.raises(GitHubError) as check:
        adapter.create_check_run(REPO, HEAD, "guardrail", title="t", summary="s", conclusion="success")
    assert "checks: write" in str(check.value)
    assert "Resource not accessible by integration" in str(check.value)


def test_bad_token_and_missing_pull_say_so(fake: FakeGitHub) -> None:
    with pytest.raises(GitHubError) as bad:
        PyGithubAdapter("wrong", fake.base_url).get_pull(REPO, 7)
    assert bad.value.status == 401 and "token is wrong or expired" in str(bad.value)
    with pytest.raises(GitHubError) as missing:
        PyGithubAdapter(fake.token, fake.base_url).get_pull(REPO, 99)
    assert missing.value.status == 404 and "acme/widgets#99" in str(missing.value)


def test_unreachable_github_is_retried_then_explained(sleeps: list[float]) -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    adapter = PyGithubAdapter("t", f"http://127.0.0.1:{port}", retries=2, sleep=sleeps.append, timeout=2)
    with pytest.raises(GitHubError) as caught:
        adapter.get_pull_diff(REPO, 7)  # httpx
    assert caught.value.status is None and "Could not reach GitHub" in str(caught.value)
    with pytest.raises(GitHubError) as caught:
        adapter.get_pull(REPO, 7)  # PyGithub
    assert caught.value.status is None and "Could not reach GitHub" in str(caught.value)
    assert sleeps == [1.0, 2.0, 1.0, 2.0]


def test_too_long_comment_gives_githubs_validation_message(adapter: PyGithubAdapter) -> None:
    with pytest.raises(GitHubError) as caught:
        adapter.create_issue_comment(REPO, 7, "x" * 65537)
    assert caught.value.status == 422
    assert "Body is too long (maximum is 65536 characters)" in str(caught.value)


def test_app_installation_token_drives_the_adapter(fake: FakeGitHub) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    fake.add_installation(42, REPO, app_id=9)
    credentials = AppCredentials(app_id="9", private_key=pem)
    assert installation_for_repo(credentials, REPO, base_url=fake.base_url) == 42
    granted = installation_token(credentials, 42, base_url=fake.base_url)
    assert granted.expires_at > time.time() + 3000  # about an hour
    (sent,) = fake.requests_to("POST", "/app/installations/42/access_tokens")
    claims = jwt.decode(sent.headers["authorization"].split()[1], key.public_key(), algorithms=["RS256"])
    assert claims["iss"] == "9" and claims["exp"] - claims["iat"] <= 600
    posted = PyGithubAdapter(granted.token, fake.base_url).create_issue_comment(REPO, 7, "from the App")
    assert posted.author.endswith("[bot]")
    with pytest.raises(GitHubError) as caught:
        installation_token(AppCredentials(app_id="77", private_key=pem), 42, base_url=fake.base_url)
    assert caught.value.status == 401


def test_check_run_patch_is_retried_only_when_it_appends_nothing(
    adapter: PyGithubAdapter, fake: FakeGitHub, sleeps: list[float]
) -> None:
    ref = adapter.create_check_run(REPO, HEAD, "guardrail", title="Running", summary="...", conclusion=None)
    fake.fail_next("PATCH", f"/repos/acme/widgets/check-runs/{ref.id}", 502, body={"message": "Bad Gateway"})
    adapter.update_check_run(REPO, ref.id, title="Done", summary="ok", conclusion="success")
    assert sleeps == [1.0] and fake.check_runs(REPO)[0]["conclusion"] == "success"
    fake.fail_next(
        "PATCH", f"/repos/acme/widgets/check-runs/{ref.id}", 502, apply=True, body={"message": "Bad Gateway"}
    )
    with pytest.raises(GitHubError) as caught:
        note = Annotation("pkg/mod.py", 2, 2, "notice", "appended once")
        adapter.update_check_run(REPO, ref.id, title="Done", summary="ok", conclusion="success", annotations=[note])
    assert caught.value.status == 502 and sleeps == [1.0]
    assert [a["message"] for a in fake.check_runs(REPO)[0]["annotations"]] == ["appended once"]
