"""`guardrail serve` and `guardrail worker` end to end: real processes, signed recorded payloads, the fake GitHub
over real HTTP (installation tokens from the App's JWT), the demo repository fetched with git, a scripted Ollama, the
real gates; SQLite and a real Redis as the queue."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.server.jobqueue import Lease, make_huey
from tests.demo_pr import REVIEW_WITH_FIX
from tests.fakes.github_server import FakeGitHub
from tests.fakes.model_servers import FakeOllama, Reply
from tests.github.action_world import NUMBER, REPO, World
from tests.server.app_world import AppWorld
from tests.server.server_world import Process, RedisServer, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def app(tmp_path: Path, fake: FakeGitHub, ollama: FakeOllama) -> Iterator[AppWorld]:
    world = AppWorld(World.build(tmp_path, fake, ollama), queue=str(tmp_path / "queue.sqlite3"))
    try:
        yield world
    finally:
        world.stop()


def posted(app: AppWorld) -> tuple[int, int, int]:
    fake = app.fake
    return len(fake.reviews(REPO, NUMBER)), len(fake.issue_comments(REPO, NUMBER)), len(fake.check_runs(REPO))


def test_a_pull_request_becomes_one_review_one_summary_one_check_run_and_a_redelivery_changes_nothing(
    app: AppWorld,
) -> None:
    app.world.ollama.default = Reply(REVIEW_WITH_FIX)
    app.serve(workers=1)

    assert app.pull_request("opened", "d-1").status_code == 202
    assert app.wait_finished("d-1") == "posted"

    assert posted(app) == (1, 1, 1)
    [review] = app.fake.reviews(REPO, NUMBER)
    assert review["commit_id"] == app.world.head and "```suggestion" in review["comments"][0]["body"]
    [check] = app.fake.check_runs(REPO)
    assert (check["name"], check["head_sha"]) == ("guardrail/review", app.world.head)
    assert app.fake.issue_comments(REPO, NUMBER)[0]["body"].startswith("<!-- guardrail:summary -->")
    writes = len(app.world.writes())

    again = app.pull_request("opened", "d-1")
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    time.sleep(3)
    assert len(app.job_lines("d-1", "job started")) == 1
    assert len(app.world.writes()) == writes and posted(app) == (1, 1, 1)
    assert all(line.get("delivery_id") for line in app.log_lines() if line["logger"].startswith("guardrail.server.w"))
    metrics = httpx.get(f"{app.url}/metrics").text
    assert 'guardrail_deliveries_total{event="pull_request",outcome="duplicate"} 1.0' in metrics
    assert 'guardrail_model_attempts_total{model="coder-local",result="accepted"} 1.0' in metrics
    assert 'guardrail_job_seconds_count{outcome="posted"} 1.0' in metrics


def test_a_slash_command_from_a_user_without_write_access_gets_a_polite_refusal(app: AppWorld) -> None:
    app.fake.set_permission(REPO, "drive-by", "read")
    app.serve(workers=1)

    assert app.comment("/guardrail patch", "drive-by", "d-refuse").status_code == 202
    assert app.wait_finished("d-refuse") == "refused"

    [refusal] = app.fake.issue_comments(REPO, NUMBER)
    assert "@drive-by" in refusal["body"] and "write access" in refusal["body"] and "Thanks" in refusal["body"]
    assert app.world.ollama.chat_requests == [] and app.fake.check_runs(REPO) == []

    # asking again and again does not make the App post again and again
    for n in range(3):
        assert app.comment("/guardrail review", "drive-by", f"d-again-{n}", comment_id=80 + n).status_code == 202
        assert app.wait_finished(f"d-again-{n}") == "refused"
    assert len(app.fake.issue_comments(REPO, NUMBER)) == 1


def test_a_push_during_a_job_supersedes_it(app: AppWorld) -> None:
    app.world.ollama.default = Reply(REVIEW_WITH_FIX)
    app.world.ollama.script(
        FakeOllama.slow(4, Reply(REVIEW_WITH_FIX))
    )  # the first job is still asking when the push comes
    app.serve(workers=1)
    old_head = app.world.head

    assert app.pull_request("opened", "d-old").status_code == 202
    wait_until(lambda: app.world.ollama.chat_requests, 60, "the first job to ask the model")
    new_head = app.world.push("README.md", "# mathkit, pushed again\n")
    assert app.pull_request("synchronize", "d-new").status_code == 202

    assert app.wait_finished("d-old") == "superseded"
    assert app.wait_finished("d-new") == "posted"
    assert [r["commit_id"] for r in app.fake.reviews(REPO, NUMBER)] == [new_head]
    assert [c["head_sha"] for c in app.fake.check_runs(REPO)] == [new_head]
    assert old_head not in app.fake.issue_comments(REPO, NUMBER)[0]["body"]


def _running_leases(queue: str) -> list[Lease]:
    storage = make_huey(queue).storage
    return [Lease.load(v) for k, v in storage.result_items().items() if k.startswith("running:")]


def test_a_worker_killed_during_a_job_runs_it_again_after_a_restart_exactly_once(app: AppWorld) -> None:
    app.world.ollama.default = Reply(REVIEW_WITH_FIX)
    app.world.ollama.script(
        FakeOllama.slow(30, Reply(REVIEW_WITH_FIX))
    )  # the first attempt hangs on the model: kill it there
    app.serve(workers=0)
    worker = app.worker(workers=1)

    assert app.pull_request("opened", "d-kill").status_code == 202
    [lease] = wait_until(lambda: _running_leases(app.queue), 60, "the job to start")
    wait_until(lambda: app.world.ollama.chat_requests, 60, "the job to ask the model")
    os.kill(lease.pid, signal.SIGKILL)  # the worker process running the job
    worker.kill_group()  # and its consumer: nothing of the first worker is left
    assert posted(app) == (0, 0, 0)

    app.worker(workers=1)  # the restart: it finds the dead worker's lease and runs the job again
    assert app.wait_finished("d-kill") == "posted"
    time.sleep(2)
    assert posted(app) == (1, 1, 1)
    attempts = [json.dumps(x) for x in app.log_lines() if x["message"].startswith("job started")]
    assert len(attempts) == 2 and "attempt 1" in attempts[1]
    assert _running_leases(app.queue) == []


def ready(process: Process) -> list[dict[str, object]]:
    return [x for x in process.lines() if str(x["message"]).startswith("worker process")]


def test_two_workers_on_one_redis_queue_never_run_the_same_job(app: AppWorld, tmp_path: Path) -> None:
    users = [f"drive-by-{i}" for i in range(12)]  # one refusal per user and PR: a user per job shows each job ran
    for user in users:
        app.fake.set_permission(REPO, user, "read")
    with RedisServer(tmp_path) as redis:
        app.queue = redis.url
        app.serve(workers=0)
        first, second = app.worker(workers=2), app.worker(workers=2)
        for process in (first, second):
            wait_until(lambda p=process: len(ready(p)) == 2, 60, "both worker processes of each machine")
        deliveries = [f"d-many-{i}" for i in range(12)]
        for i, delivery in enumerate(deliveries):
            assert app.comment("/guardrail review", users[i], delivery, comment_id=1000 + i).status_code == 202
        for delivery in deliveries:
            assert app.wait_finished(delivery) == "refused"
        time.sleep(1)
        refusals = [c["body"] for c in app.fake.issue_comments(REPO, NUMBER)]
        assert sorted(b.split("user=")[1].split(" ")[0] for b in refusals) == sorted(users)
        started = {x["delivery_id"]: x for x in app.log_lines() if x["message"].startswith("job started")}
        assert len([x for x in app.log_lines() if x["message"].startswith("job started")]) == 12 == len(started)
        by_process = {id(p) for p in (first, second) for x in p.lines() if x["message"].startswith("job started")}
        assert len(by_process) == 2  # both machines took work
        app.stop()


def test_a_job_past_the_operators_budget_is_stopped_and_the_pr_told(app: AppWorld) -> None:
    # a slow model here; a repository's own timeouts can only narrow the admin's, but many steps add up
    app.world.ollama.default = Reply(REVIEW_WITH_FIX, delay=25)
    app.settings["GUARDRAIL_JOB_SECONDS"] = "4"
    app.serve(workers=1)

    started = time.monotonic()
    assert app.pull_request("opened", "d-slow").status_code == 202
    assert app.wait_finished("d-slow", timeout=60) == "timed_out"
    assert time.monotonic() - started < 20
    [summary] = app.fake.issue_comments(REPO, NUMBER)
    assert "4 s one job may take" in summary["body"] and "d-slow" in summary["body"]
    assert app.fake.reviews(REPO, NUMBER) == []
    metrics = httpx.get(f"{app.url}/metrics").text
    assert 'guardrail_job_seconds_count{outcome="timed_out"} 1.0' in metrics


def test_github_failures_are_retried_then_said_in_the_summary(app: AppWorld) -> None:
    app.world.ollama.default = Reply(REVIEW_WITH_FIX)
    pull_path = f"/repos/{REPO}/pulls/{NUMBER}"
    app.fake.fail_next("GET", pull_path, 502, body={"message": "Server Error"}, times=2)
    app.serve(workers=1)

    assert app.pull_request("opened", "d-flaky").status_code == 202
    assert app.wait_finished("d-flaky") == "posted"  # two 502s, retried with backoff
    assert posted(app) == (1, 1, 1)

    app.fake.fail_next("GET", pull_path, 502, body={"message": "Server Error"}, times=5)  # more than the retries
    app.world.push("README.md", "# mathkit again\n")
    assert app.pull_request("synchronize", "d-down").status_code == 202
    assert app.wait_finished("d-down", timeout=180) == "failed"
    [summary] = app.fake.issue_comments(REPO, NUMBER)  # the same sticky comment, now saying why
    assert "could not finish" in summary["body"] and "502" in summary["body"] and "d-down" in summary["body"]


def test_a_writers_slash_command_gates_the_head_of_its_time_and_not_a_later_push(app: AppWorld) -> None:
    app.fake.set_permission(REPO, "maintainer", "write")
    app.world.ollama.default = Reply(REVIEW_WITH_FIX)
    app.serve(workers=1)
    written = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5))  # a comment from before the push

    assert app.comment("/guardrail review", "maintainer", "d-cmd", comment_id=5).status_code == 202
    assert app.wait_finished("d-cmd") == "posted"
    assert [r["commit_id"] for r in app.fake.reviews(REPO, NUMBER)] == [app.world.head]

    time.sleep(1.1)  # GitHub's times have whole seconds
    new_head = app.world.push("README.md", "# mathkit, after the comment\n")
    late = app.comment("/guardrail patch", "maintainer", "d-late", comment_id=6, at=written)
    assert late.status_code == 202
    assert app.wait_finished("d-late") == "skipped"
    note = app.fake.issue_comments(REPO, NUMBER)[-1]["body"]
    assert "nothing was gated" in note and new_head[:12] in note
    assert len(app.fake.reviews(REPO, NUMBER)) == 1
