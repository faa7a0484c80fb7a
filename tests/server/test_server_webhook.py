"""The web front against a real uvicorn on 127.0.0.1 and a real queue (SQLite file and a real Redis): what GitHub
sees when it delivers, and what lands in the queue."""

from __future__ import annotations

import concurrent.futures
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.server.app import MAX_BODY_BYTES, create_app
from bot.server.jobqueue import JobQueue, make_huey
from bot.server.runtime import jail_probe
from bot.server.settings import settings_from
from tests.github.action_world import payload
from tests.server.server_world import SECRET, RedisServer, deliver, delivery_headers, serve_in_thread


@dataclass
class Front:
    url: str
    queue: JobQueue
    queue_url: str


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture(params=["sqlite", "redis"])
def front(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Front]:
    if request.param == "redis":
        queue_url = request.getfixturevalue("redis_url")
    else:
        queue_url = str(tmp_path / "queue.sqlite3")
    settings = settings_from({"GUARDRAIL_WEBHOOK_SECRET": SECRET, "GUARDRAIL_QUEUE": queue_url}, {}, need_secret=True)
    queue = JobQueue(make_huey(settings.queue))
    queue.huey.storage.flush_all()  # the module's Redis is shared by the tests
    with serve_in_thread(create_app(settings, queue, probe=jail_probe())) as url:
        yield Front(url, queue, queue_url)


def stored(queue: JobQueue) -> int:
    return int(queue.huey.storage.result_store_size()) + queue.depth()


def test_githubs_published_signature_vector_is_accepted_by_the_signer() -> None:
    from bot.server.signature import sign, verify

    # docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries (tests/data/github/FACTS.md §1.1)
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign(b"It's a Secret to Everybody", b"Hello, World!") == expected
    assert verify(b"It's a Secret to Everybody", b"Hello, World!", expected)
    assert not verify(b"It's a Secret to Everybody", b"Hello, World!!", expected)
    assert not verify(b"another secret", b"Hello, World!", expected)
    assert not verify(b"It's a Secret to Everybody", b"Hello, World!", expected.replace("sha256=", "sha1="))
    assert not verify(b"It's a Secret to Everybody", b"Hello, World!", None)


def test_a_pull_request_delivery_is_queued_before_the_202(front: Front) -> None:
    data = payload("pull_request/opened.json")
    answer = deliver(front.url, "pull_request", data, "d-opened-1")
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"outcome": "queued"}
    [job] = front.queue.pending_jobs()
    assert (job.delivery_id, job.repo, job.number) == ("d-opened-1", "Codertocat/Hello-World", 2)
    assert job.head_sha == data["pull_request"]["head"]["sha"] and job.installation_id == 1


def test_a_redelivery_is_answered_200_and_queues_nothing_more(front: Front) -> None:
    data = payload("pull_request/synchronize.json")
    assert deliver(front.url, "pull_request", data, "d-sync-1").status_code == 202
    again = deliver(front.url, "pull_request", data, "d-sync-1")
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert len(front.queue.pending_jobs()) == 1


def test_concurrent_redeliveries_queue_one_job(front: Front) -> None:
    data = payload("pull_request/reopened.json")
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: deliver(front.url, "pull_request", data, "d-race"), range(16)))
    assert sorted(a.status_code for a in answers) == [200] * 15 + [202]
    assert len(front.queue.pending_jobs()) == 1


def test_a_bad_or_missing_signature_is_401_and_stores_nothing(front: Front) -> None:
    data = payload("pull_request/opened.json")
    assert deliver(front.url, "pull_request", data, "d-forged", secret="not the secret").status_code == 401
    body = b'{"action": "opened"}'
    headers = delivery_headers("pull_request", body, "d-unsigned")
    del headers["x-hub-signature-256"]
    assert httpx.post(f"{front.url}/webhook", content=body, headers=headers).status_code == 401
    assert stored(front.queue) == 0
    # a forged delivery does not burn its id: the real one is still accepted
    assert deliver(front.url, "pull_request", data, "d-forged").status_code == 202


def test_malformed_deliveries_are_400(front: Front) -> None:
    assert deliver(front.url, "pull_request", b"{not json", "d-bad-json").status_code == 400
    broken = payload("pull_request/opened.json")
    del broken["pull_request"]["head"]
    answer = deliver(front.url, "pull_request", broken, "d-no-head")
    assert answer.status_code == 400 and "pull_request.head" in answer.json()["detail"]
    body = b"{}"
    headers = delivery_headers("pull_request", body, "")
    assert httpx.post(f"{front.url}/webhook", content=body, headers=headers).status_code == 400
    assert front.queue.depth() == 0


def test_a_body_over_25_mb_is_413_without_being_read(front: Front) -> None:
    host, port = front.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        head = (
            f"POST /webhook HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"X-GitHub-Event: pull_request\r\nX-GitHub-Delivery: d-huge\r\nX-Hub-Signature-256: sha256=00\r\n"
            f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n"
        )
        sock.sendall(head.encode() + b"{" * 1024)  # only 1 KB of the promised 25 MB: the answer must not wait for it
        assert sock.recv(64).startswith(b"HTTP/1.1 413")

    def chunks() -> Iterator[bytes]:  # no Content-Length (chunked): counted while it streams
        for _ in range(MAX_BODY_BYTES // (1 << 20) + 2):
            yield b" " * (1 << 20)

    headers = delivery_headers("pull_request", b"", "d-huge-chunked")
    assert httpx.post(f"{front.url}/webhook", content=chunks(), headers=headers, timeout=30).status_code == 413
    assert stored(front.queue) == 0


def test_other_events_are_202_ignored_and_counted(front: Front) -> None:
    review = deliver(front.url, "pull_request_review", payload("pull_request_review/submitted.json"), "d-review")
    assert review.status_code == 202 and review.json()["outcome"] == "ignored"
    closed = deliver(front.url, "pull_request", payload("pull_request/closed.json"), "d-closed")
    assert closed.status_code == 202 and "closed" in closed.json()["detail"]
    ping = deliver(front.url, "ping", payload("ping/with-app_id.json"), "d-ping")
    assert ping.status_code == 202 and ping.json() == {
        "outcome": "noted",
        "detail": "nothing to do for event ping: noted, nothing to run",
    }
    added = payload("installation_repositories/added.json")
    assert deliver(front.url, "installation_repositories", added, "d-added").json()["outcome"] == "noted"
    assert front.queue.depth() == 0
    metrics = httpx.get(f"{front.url}/metrics").text
    assert 'guardrail_deliveries_total{event="pull_request_review",outcome="ignored"} 1.0' in metrics
    assert 'guardrail_deliveries_total{event="ping",outcome="noted"} 1.0' in metrics
    assert "guardrail_queue_depth 0.0" in metrics


def test_a_slash_command_and_a_check_run_rerun_are_queued(front: Front) -> None:
    comment = payload("issue_comment/created.with-installation.json")
    comment["issue"]["pull_request"] = {"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"}
    comment["comment"]["body"] = "/guardrail patch\nplease"
    assert deliver(front.url, "issue_comment", comment, "d-comment").status_code == 202
    rerun = payload("check_run/rerequested.json")
    rerun["check_run"]["name"] = "guardrail/review"
    rerun["check_run"]["pull_requests"] = [{"number": 2, "id": 1, "url": "x", "head": {}, "base": {}}]
    assert deliver(front.url, "check_run", rerun, "d-rerun").status_code == 202
    jobs = {job.delivery_id: job for job in front.queue.pending_jobs()}
    assert (jobs["d-comment"].purpose, jobs["d-comment"].requested_by) == ("patch", "Codertocat")
    assert (jobs["d-rerun"].purpose, jobs["d-rerun"].head_sha) == ("review", rerun["check_run"]["head_sha"])


def test_healthz_reports_the_queue_and_the_jail(front: Front) -> None:
    answer = httpx.get(f"{front.url}/healthz")
    status = jail_probe()()
    assert answer.status_code == (200 if status.ok else 503)
    assert answer.json()["jail"] == status.message


def test_healthz_is_503_when_the_queue_is_unreachable(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"redis://127.0.0.1:{sock.getsockname()[1]}/0"  # bound, never listening: connection refused
        settings = settings_from({"GUARDRAIL_WEBHOOK_SECRET": SECRET, "GUARDRAIL_QUEUE": dead}, {}, need_secret=True)
        queue = JobQueue(make_huey(settings.queue))
        with serve_in_thread(create_app(settings, queue, probe=jail_probe())) as url:
            health = httpx.get(f"{url}/healthz")
            assert health.status_code == 503
            assert "queue unreachable" in health.json()["problems"][0]
            answer = deliver(url, "pull_request", payload("pull_request/opened.json"), "d-down")
            assert answer.status_code == 503  # GitHub records a failed delivery, which can be redelivered


def test_a_captured_delivery_replayed_under_a_new_id_is_not_run_again(front: Front) -> None:
    data = payload("pull_request/opened.json")
    assert deliver(front.url, "pull_request", data, "d-original").status_code == 202
    replay = deliver(front.url, "pull_request", data, "d-replayed-with-a-new-id")  # the id is not signed
    assert replay.status_code == 200 and replay.json()["outcome"] == "replay"
    assert [job.delivery_id for job in front.queue.pending_jobs()] == ["d-original"]


def test_a_delivery_id_that_is_not_a_guid_is_refused_before_it_is_stored(front: Front) -> None:
    data = payload("pull_request/opened.json")
    for bad in ("x" * 500, "../../etc", "id with spaces"):
        answer = deliver(front.url, "pull_request", data, bad)
        assert answer.status_code == 400 and "X-GitHub-Delivery" in answer.json()["detail"]
    assert stored(front.queue) == 0


def test_made_up_event_names_do_not_become_metric_labels(front: Front) -> None:
    for i in range(5):
        deliver(front.url, f"made-up-{i}", {"action": "x"}, f"d-made-up-{i}", secret="wrong")
    metrics = httpx.get(f"{front.url}/metrics").text
    assert "made-up" not in metrics
    assert 'guardrail_deliveries_total{event="other",outcome="unsigned"} 5.0' in metrics


@contextmanager
def queue_held(queue_url: str, seconds: float) -> Iterator[None]:
    """The queue stops answering writes for ``seconds``: a SQLite file another process holds locked, or a Redis
    server whose clients are paused (CLIENT PAUSE); what a busy worker or a slow network link does for a moment."""
    if queue_url.startswith("redis://"):
        import redis

        redis.Redis.from_url(queue_url).execute_command("CLIENT", "PAUSE", int(seconds * 1000), "ALL")
        yield
        return
    holder = sqlite3.connect(queue_url, isolation_level=None, check_same_thread=False)
    holder.execute("begin exclusive")
    timer = threading.Timer(seconds, holder.rollback)
    timer.start()
    try:
        yield
    finally:
        timer.join()
        holder.close()


def test_a_queue_that_answers_slowly_holds_only_its_own_delivery(front: Front) -> None:
    # While one delivery waits on the queue, the server goes on answering: the event loop never waits on the queue.
    data = payload("pull_request/opened.json")
    with concurrent.futures.ThreadPoolExecutor(1) as pool, queue_held(front.queue_url, 2.0):
        slow = pool.submit(deliver, front.url, "pull_request", data, "d-waits-on-queue")
        time.sleep(0.3)  # the delivery is now waiting on the queue
        started = time.monotonic()
        refused = deliver(front.url, "pull_request", data, "d-forged", secret="not the secret")
        answered_in = time.monotonic() - started
        still_waiting = not slow.done()
    assert refused.status_code == 401
    assert still_waiting, "the first delivery should still be waiting on the queue"
    assert answered_in < 1.0, f"a request unrelated to the queue waited {answered_in:.2f} s behind it"
    assert slow.result().status_code == 202
    assert [job.delivery_id for job in front.queue.pending_jobs()] == ["d-waits-on-queue"]
