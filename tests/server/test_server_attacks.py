"""The attacker's pass on the App: each test is a way in that once worked (or a sloppy setup that once went unsaid),
run against the real web front (uvicorn on 127.0.0.1) and a real queue (a SQLite file and a real Redis)."""

from __future__ import annotations

import pytest

from bot.server.jobqueue import Superseded
from tests.github.action_world import payload
from tests.server.server_world import deliver
from tests.server.test_server_webhook import Front, front, redis_url  # noqa: F401 (the shared fixtures)


def _push_delivery(action: str, head_sha: str, updated_at: str) -> dict[str, object]:
    data = payload(f"pull_request/{action}.json")
    data["pull_request"]["head"]["sha"] = head_sha
    data["pull_request"]["updated_at"] = updated_at
    return data


def test_an_older_push_delivered_after_a_newer_one_does_not_become_the_prs_head(front: Front) -> None:  # noqa: F811
    # GitHub delivers concurrently, so deliveries can arrive out of order; the PR's updated_at orders them. Before,
    # the older head replaced the newer: the newer job was superseded, and the older one too (GitHub's head had
    # moved on), so nothing was posted for the newest push.
    newer = _push_delivery("synchronize", "b" * 40, "2026-11-29T10:00:05Z")
    older = _push_delivery("opened", "a" * 40, "2026-11-29T10:00:00Z")
    assert deliver(front.url, "pull_request", newer, "d-newer").status_code == 202
    assert deliver(front.url, "pull_request", older, "d-older").status_code == 202
    jobs = {job.delivery_id: job for job in front.queue.pending_jobs()}
    front.queue.ensure_current(jobs["d-newer"])  # the newest push is still current: it runs and posts
    with pytest.raises(Superseded):
        front.queue.ensure_current(jobs["d-older"])
    latest = _push_delivery("synchronize", "c" * 40, "2026-11-29T10:00:09Z")  # a later push supersedes both
    assert deliver(front.url, "pull_request", latest, "d-latest").status_code == 202
    with pytest.raises(Superseded):
        front.queue.ensure_current(jobs["d-newer"])
