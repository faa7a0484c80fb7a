"""The attacker's pass on the App: each test is a way in that once worked (or a sloppy setup that once went unsaid),
run against the real web front (uvicorn on 127.0.0.1) and a real queue (a SQLite file and a real Redis)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.github.app_auth import AppCredentials, InstallationTokens
from bot.github.event import Ignored
from bot.github.pygithub_adapter import PyGithubAdapter
from bot.server.app import BODY_SECONDS, create_app
from bot.server.deliveries import Job, classify
from bot.server.jobqueue import JobQueue, Superseded, make_huey
from bot.server.metrics import BUILTIN_GATES, Metrics
from bot.server.runtime import jail_probe
from bot.server.settings import settings_from, weaknesses
from bot.server.worker import MAX_ATTEMPTS, WorkerDeps, run_job
from bot.types import Attempt, GateResult, Outcome, PullRequest
from checks import apply, effect, paths, proc, ruff
from checks import tests as tests_gate
from tests.demo_pr import REVIEW_WITH_FIX
from tests.fakes.model_servers import FakeOllama, Reply
from tests.github.action_world import NUMBER, REPO, payload
from tests.server.app_world import AppWorld
from tests.server.server_world import SECRET, Process, deliver, free_port, serve_in_thread, wait_until, write_app_key
from tests.server.test_server_app_e2e import _running_leases, app  # noqa: F401 (the end-to-end world)
from tests.server.test_server_webhook import Front, front, redis_url, stored  # noqa: F401 (the shared fixtures)


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


def _slow_body(url: str) -> socket.socket:
    """A connection that sends a delivery's headers and one byte of its body, then nothing (a slowloris)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    head = (
        f"POST /webhook HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nX-GitHub-Event: pull_request\r\n"
        "X-GitHub-Delivery: d-slow\r\nX-Hub-Signature-256: sha256=00\r\nContent-Length: 1000\r\n\r\n"
    )
    sock.sendall(head.encode() + b"{")
    return sock


def test_a_body_sent_byte_by_byte_is_408_and_stores_nothing(tmp_path: Path) -> None:
    settings = settings_from(
        {"GUARDRAIL_WEBHOOK_SECRET": SECRET, "GUARDRAIL_QUEUE": str(tmp_path / "q.sqlite3")}, {}, need_secret=True
    )
    queue = JobQueue(make_huey(settings.queue))
    with serve_in_thread(create_app(settings, queue, probe=jail_probe(), body_seconds=1.0)) as url:
        with _slow_body(url) as sock:
            started = time.monotonic()
            answer = sock.recv(64)
            assert answer.startswith(b"HTTP/1.1 408"), answer
            assert time.monotonic() - started < 5
        assert stored(queue) == 0
        metrics = httpx.get(f"{url}/metrics").text
        assert 'guardrail_deliveries_total{event="pull_request",outcome="timeout"} 1.0' in metrics


def test_serve_stops_on_sigterm_while_a_sender_trickles_a_body(tmp_path: Path) -> None:
    # Before: uvicorn waited for the request's task, which waited for the body, for ever; SIGTERM did nothing.
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUARDRAIL_", "GITHUB_"))}
    env |= {"GUARDRAIL_WEBHOOK_SECRET": SECRET, "GUARDRAIL_QUEUE": str(tmp_path / "q.sqlite3")}
    serve = Process(["serve", "--port", str(port), "--workers", "0"], env, tmp_path / "serve.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(url), 30, "guardrail serve to answer")
        _slow_body(url).close()  # a sender that goes away in the middle of its body
        time.sleep(0.5)
        with _slow_body(url):
            time.sleep(0.5)
            os.killpg(serve.proc.pid, signal.SIGTERM)
            started = time.monotonic()
            serve.proc.wait(timeout=BODY_SECONDS + 10)
            assert time.monotonic() - started < BODY_SECONDS + 5
    finally:
        serve.stop()
    assert not [x for x in serve.lines() if x["level"] == "error"]  # no traceback for a sender that went away


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code in (200, 503)
    except httpx.TransportError:
        return False


@pytest.mark.slow
def test_a_job_whose_worker_dies_every_time_is_given_up_with_a_summary_not_run_for_ever(app: AppWorld) -> None:  # noqa: F811
    # A PR whose run kills its worker (out of memory, a crash in a native library) was re-enqueued after every
    # death, as attempt 1, 2, 3, ... for ever, holding a worker each time and never telling the PR.
    app.world.ollama.default = FakeOllama.slow(60, Reply(REVIEW_WITH_FIX))  # every attempt hangs on the model
    app.serve(workers=0)
    app.worker(workers=1)
    assert app.pull_request("opened", "d-poison").status_code == 202
    for attempt in range(MAX_ATTEMPTS):
        asked = len(app.world.ollama.chat_requests)
        [lease] = wait_until(
            lambda a=attempt: [x for x in _running_leases(app.queue) if x.job.attempt == a], 90, f"attempt {attempt}"
        )
        wait_until(lambda n=asked: len(app.world.ollama.chat_requests) > n, 60, "the attempt to ask the model")
        os.kill(lease.pid, signal.SIGKILL)  # the worker process dies with the job
    assert app.wait_finished("d-poison") == "failed"
    [summary] = app.fake.issue_comments(REPO, NUMBER)
    assert "d-poison" in summary["body"] and f"died {MAX_ATTEMPTS} times" in summary["body"]
    assert app.fake.reviews(REPO, NUMBER) == [] and app.fake.check_runs(REPO) == []
    time.sleep(2)
    assert len([x for x in app.log_lines() if x["message"].startswith("job started")]) == MAX_ATTEMPTS + 1


def test_a_check_run_rerun_acts_on_the_repositorys_own_pull_request_not_a_forks(front: Front) -> None:  # noqa: F811
    # check_run.pull_requests can list pull requests of other repositories (forks of a public repository: palantir/
    # policy-bot#807, Mergifyio/mergify#831). Before, the first entry's number was taken as this repository's PR.
    rerun = payload("check_run/rerequested.json")
    rerun["check_run"]["name"] = "guardrail/review"
    own_id, own = rerun["repository"]["id"], rerun["repository"]["full_name"]
    fork = {"url": "https://api.github.com/repos/forkowner/hello-world/pulls/3", "id": 3, "number": 3}
    fork |= {"head": _side(999, "forkowner/hello-world"), "base": _side(999, "forkowner/hello-world")}
    mine = {"url": f"https://api.github.com/repos/{own}/pulls/2", "id": 2, "number": 2}
    mine |= {"head": _side(own_id, own), "base": _side(own_id, own)}
    rerun["check_run"]["pull_requests"] = [fork, mine]
    assert deliver(front.url, "check_run", rerun, "d-rerun-fork-first").status_code == 202
    [job] = front.queue.pending_jobs()
    assert (job.repo, job.number) == (own, 2)

    rerun["check_run"]["pull_requests"] = [fork]  # only another repository's PR: nothing of ours to run
    answer = deliver(front.url, "check_run", rerun, "d-rerun-fork-only")
    assert answer.status_code == 202 and answer.json()["outcome"] == "ignored"
    assert "another repository" in answer.json()["detail"]
    assert len(front.queue.pending_jobs()) == 1


def _side(repo_id: int, repo: str) -> dict[str, object]:
    return {"ref": "main", "sha": "0" * 40, "repo": {"id": repo_id, "url": f"https://api.github.com/repos/{repo}"}}


def test_serve_warns_about_a_weak_secret_a_secret_on_the_command_line_and_a_key_others_can_read(
    tmp_path: Path,
) -> None:
    key = write_app_key(tmp_path / "app.pem")
    key.chmod(0o644)  # what a copy with the default umask gets
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUARDRAIL_", "GITHUB_"))}
    env |= {"GUARDRAIL_QUEUE": str(tmp_path / "q.sqlite3"), "GUARDRAIL_APP_ID": "1"}
    env |= {"GUARDRAIL_APP_PRIVATE_KEY": str(key), "GITHUB_API_URL": "http://127.0.0.1:9"}
    argv = ["serve", "--port", str(port), "--workers", "1", "--webhook-secret", "hunter2"]
    serve = Process(argv, env, tmp_path / "serve.log")
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}"), 30, "guardrail serve to answer")
    finally:
        serve.stop()
    warnings = [x["message"] for x in serve.lines() if x["level"] == "warning" and x["logger"].endswith("settings")]
    assert any("GUARDRAIL_WEBHOOK_SECRET" in w and "7 characters" in w for w in warnings), warnings
    assert any("--webhook-secret" in w and "ps" in w for w in warnings), warnings
    assert any(str(key) in w and "chmod 600" in w for w in warnings), warnings
    assert not any("hunter2" in line for line in serve.log.read_text().splitlines())  # never the secret itself


def test_serve_refuses_a_secret_of_only_whitespace(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUARDRAIL_", "GITHUB_"))}
    env |= {"GUARDRAIL_WEBHOOK_SECRET": " \t ", "GUARDRAIL_QUEUE": str(tmp_path / "q.sqlite3")}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--port", "0"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "GUARDRAIL_WEBHOOK_SECRET" in done.stderr


def test_gate_names_from_a_repositorys_config_do_not_become_metric_labels(tmp_path: Path) -> None:
    # `gates.commands[].name` is whatever a repository's .guardrail.yml says: on a public App every installing
    # repository could add time series to the operator's Prometheus, one per made-up name.
    metrics = Metrics()
    for i in range(5):
        gates = (GateResult("tests", "fail", "1 failed"), GateResult(f"made-up-{i}-" + "x" * 200, "fail", "exit 1"))
        attempt = Attempt("coder-local", "ollama", "local", "rejected", gates=gates)
        pr = PullRequest(tmp_path, "main", "pr")
        metrics.record_outcome(Outcome(pr, "review", posted=False, winner=None, attempts=(attempt,)))
    text = metrics.exposition().decode()
    assert "made-up" not in text
    assert 'guardrail_gate_failures_total{gate="tests"} 5.0' in text
    assert 'guardrail_gate_failures_total{gate="command"} 5.0' in text
    assert {apply.NAME, paths.NAME, ruff.NAME, tests_gate.NAME, effect.NAME} == BUILTIN_GATES


def test_an_unsigned_request_cannot_write_its_headers_into_the_log(tmp_path: Path) -> None:
    # The delivery id and event name of a request are logged before anyone knows it is GitHub's: a stranger's 60 KB
    # headers became 120 KB log lines, at line rate (a disk filled by requests that were all refused).
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUARDRAIL_", "GITHUB_"))}
    env |= {"GUARDRAIL_WEBHOOK_SECRET": SECRET * 2, "GUARDRAIL_QUEUE": str(tmp_path / "q.sqlite3")}
    serve = Process(["serve", "--port", str(port), "--workers", "0"], env, tmp_path / "serve.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(url), 30, "guardrail serve to answer")
        headers = {"x-github-event": "e" * 30_000, "x-github-delivery": "d" * 30_000, "x-hub-signature-256": "x"}
        for _ in range(3):
            assert httpx.post(f"{url}/webhook", content=b"{}", headers=headers).status_code == 401
        answer = deliver(url, "pull_request", payload("pull_request/opened.json"), "d-real", secret=SECRET * 2)
        assert answer.status_code == 202
    finally:
        serve.stop()
    lines = serve.log.read_text().splitlines()
    refused = [x for x in lines if "-> 401 unsigned" in x]  # (the temporary folder's name says "unsigned" too)
    assert len(refused) == 3 and all(len(x) < 1000 for x in refused)
    assert any(x.get("delivery_id") == "d-real" for x in map(json.loads, filter(lambda x: x.startswith("{"), lines)))
    # uvicorn's own lines (its start-up) carry no copy of the message in ANSI colour codes either
    assert any("Uvicorn running" in x for x in lines) and not any("\x1b" in x or "\\u001b" in x for x in lines)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found += [int(entry.name), *_children(int(entry.name))]
    return found


def test_the_workers_serve_starts_do_not_hold_the_webhook_secret(tmp_path: Path) -> None:
    # Workers never check a signature; the processes that run PR code (jailed) and talk to models need not know the
    # secret that lets anyone make the App run jobs.
    key = write_app_key(tmp_path / "app.pem")
    key.chmod(0o600)
    secret = "a-webhook-secret-of-some-length-" + "s" * 16
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUARDRAIL_", "GITHUB_"))}
    env |= {"GUARDRAIL_WEBHOOK_SECRET": secret, "GUARDRAIL_QUEUE": str(tmp_path / "q.sqlite3")}
    env |= {"GUARDRAIL_APP_ID": "1", "GUARDRAIL_APP_PRIVATE_KEY": str(key), "GITHUB_API_URL": "http://127.0.0.1:9"}
    serve = Process(["serve", "--port", str(port), "--workers", "2"], env, tmp_path / "serve.log")
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}"), 30, "guardrail serve to answer")
        ready = lambda: [x for x in serve.lines() if str(x["message"]).startswith("worker process")]  # noqa: E731
        wait_until(lambda: len(ready()) == 2, 30, "both worker processes")
        workers = _children(serve.proc.pid)
        assert len(workers) >= 3
        for pid in workers:
            seen = Path(f"/proc/{pid}/environ").read_bytes() + Path(f"/proc/{pid}/cmdline").read_bytes()
            assert b"bot.cli" in seen and secret.encode() not in seen
    finally:
        serve.stop()


def test_a_check_run_of_another_app_is_ignored_when_the_app_is_named_by_its_client_id() -> None:
    # GUARDRAIL_APP_ID may be the App's client id (GitHub recommends it for the JWT's iss); the check run's owner was
    # then not compared at all, so another App's `guardrail/review` run could start a job here.
    rerun = payload("check_run/rerequested.json")
    rerun["check_run"]["name"] = "guardrail/review"
    rerun["check_run"]["pull_requests"] = [{"number": 3}]
    rerun["check_run"]["app"]["client_id"] = "Iv23liOtherApp"
    other = classify("check_run", rerun, "d", app_id="Iv23liThisApp")
    assert isinstance(other, Ignored) and "not this one" in other.reason
    rerun["check_run"]["app"]["client_id"] = "Iv23liThisApp"
    assert isinstance(classify("check_run", rerun, "d", app_id="Iv23liThisApp"), Job)


@dataclass(frozen=True)
class _Status:
    ok: bool
    message: str


def test_a_failing_jail_probe_is_not_run_once_per_healthz_request(tmp_path: Path) -> None:
    # /healthz answers anyone. With the jail broken, each request ran the probe again (a bwrap start): a stranger's
    # loop of GETs became a loop of process starts on the machine that runs the workers.
    runs: list[float] = []

    def broken_jail() -> _Status:
        runs.append(time.monotonic())
        return _Status(False, "bwrap: setting up uid map: Permission denied")

    settings = settings_from(
        {"GUARDRAIL_WEBHOOK_SECRET": SECRET, "GUARDRAIL_QUEUE": str(tmp_path / "q.sqlite3")}, {}, need_secret=True
    )
    queue = JobQueue(make_huey(settings.queue))
    with serve_in_thread(create_app(settings, queue, probe=broken_jail)) as url:
        with httpx.Client() as client:
            answers = [client.get(f"{url}/healthz") for _ in range(50)]
    assert {a.status_code for a in answers} == {503}
    assert all("Permission denied" in a.json()["problems"][0] for a in answers)
    assert len(runs) <= 2


def test_plain_http_to_a_remote_github_or_git_server_is_warned_about(tmp_path: Path) -> None:
    # The JWT and the installation tokens go to GITHUB_API_URL, and the tokens to GUARDRAIL_GIT_URL (git's
    # Authorization header): over plain HTTP anyone on the path reads them. Loopback (a local fake, a proxy on this
    # machine) is fine.
    env = {"GUARDRAIL_WEBHOOK_SECRET": "s" * 32, "GUARDRAIL_QUEUE": str(tmp_path / "q.sqlite3")}
    sloppy = env | {
        "GITHUB_API_URL": "http://ghes.example.internal/api/v3",
        "GUARDRAIL_GIT_URL": "http://git-cache.example.internal/{repo}.git",
    }
    lines = weaknesses(settings_from(sloppy, {}, need_secret=True), {}, secret=True)
    assert any(x.startswith("GITHUB_API_URL (--github-api-url)") and "unencrypted" in x for x in lines), lines
    assert any(x.startswith("GUARDRAIL_GIT_URL (--git-url)") and "unencrypted" in x for x in lines), lines
    fine = env | {"GITHUB_API_URL": "http://127.0.0.1:8080", "GUARDRAIL_GIT_URL": "https://git.example/{repo}"}
    assert weaknesses(settings_from(fine, {}, need_secret=True), {}, secret=True) == []


def test_an_open_redis_on_another_machine_is_warned_about(tmp_path: Path) -> None:
    # huey keeps jobs as pickles: whoever can write to the queue's Redis runs code in every worker. A Redis on another
    # machine without a password, or without TLS (the password and the jobs in the clear), deserves a warning.
    def lines(queue: str) -> list[str]:
        env = {"GUARDRAIL_WEBHOOK_SECRET": "s" * 32, "GUARDRAIL_QUEUE": queue}
        return weaknesses(settings_from(env, {}, need_secret=True), {}, secret=True)

    [open_redis] = lines("redis://queue.example.internal:6379/0")
    assert open_redis.startswith("GUARDRAIL_QUEUE (--queue)") and "password" in open_redis and "pickle" in open_redis
    [clear] = lines("redis://:pw@queue.example.internal:6379/0")
    assert "rediss://" in clear and "pw" not in clear.replace("password", "")  # the warning never shows the password
    assert lines("rediss://:pw@queue.example.internal:6380/0") == []
    assert lines("redis://127.0.0.1:6379/0") == [] and lines(str(tmp_path / "q.sqlite3")) == []


@pytest.mark.slow
def test_a_job_that_outlives_its_installation_token_still_posts(app: AppWorld) -> None:  # noqa: F811
    # A token is reused until 5 minutes before its hour ends, so a job that starts at minute 54 with it and runs
    # for 10 minutes (a model on a CPU, two test-suite runs) posted with an expired token: 401, and the whole run lost.
    app.world.ollama.default = Reply(REVIEW_WITH_FIX)
    app.world.ollama.script(FakeOllama.slow(3, Reply(REVIEW_WITH_FIX)))  # the job is still thinking when time passes
    app.serve(workers=0)
    assert app.pull_request("opened", "d-long").status_code == 202
    settings = settings_from(app.env(), {}, need_secret=False)
    queue = JobQueue(make_huey(settings.queue))
    [job] = queue.pending_jobs()
    now = [time.time()]
    tokens = InstallationTokens(
        AppCredentials(settings.app_id, settings.private_key()), base_url=settings.api_url, clock=lambda: now[0]
    )
    deps = WorkerDeps(
        settings, queue, tokens.get, lambda t: PyGithubAdapter(token=t, base_url=settings.api_url), Metrics(), {}
    )
    first = tokens.get(job.installation_id or 0)

    def the_hour_ends() -> None:  # while the job waits on the model
        wait_until(lambda: app.world.ollama.chat_requests, 60, "the job to ask the model")
        now[0] = time.time() + 3600
        app.fake.expire_token(first)

    clock = threading.Thread(target=the_hour_ends)
    clock.start()
    outcome = run_job(job, deps)
    clock.join()
    assert outcome == "posted"
    assert len(app.fake.reviews(REPO, NUMBER)) == 1 and len(app.fake.check_runs(REPO)) == 1


def test_a_repositorys_pass_env_cannot_hand_the_operators_secrets_to_pr_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On the App, `.guardrail.yml` is the installing repository's, the worker's environment the operator's: naming
    # the operator's cloud key or queue URL in `gates.pass_env` gave them to PR code, which can print them, encoded
    # past any redaction, into the test output the PR's summary shows.
    secrets = {
        "OPENAI_API_KEY": "sk-operator",
        "GUARDRAIL_QUEUE": "redis://:queue-pw@queue.internal:6379/0",
        "GUARDRAIL_GIT_URL": "https://u:git-pw@git.internal/{repo}",
        "DEPLOY_TOKEN": "t0ken",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "site.settings")
    code = "import os, json; print(json.dumps(dict(os.environ)))"
    named = (*secrets, "DJANGO_SETTINGS_MODULE")
    result = proc.run([sys.executable, "-c", code], cwd=tmp_path, timeout=30, pass_env=named)
    seen = json.loads(result.stdout)
    assert not set(secrets) & set(seen), seen
    assert seen["DJANGO_SETTINGS_MODULE"] == "site.settings"  # a plain setting still gets through


def test_healthz_does_not_tell_strangers_where_the_queue_is(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # /healthz answers anyone: "Error 111 connecting to 10.1.2.3:6379" told a stranger where the (pickle-eating)
    # Redis lives. The address goes to the log, for the operator.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        dead = f"redis://127.0.0.1:{port}/0"  # bound, never listening: connection refused
        settings = settings_from({"GUARDRAIL_WEBHOOK_SECRET": SECRET, "GUARDRAIL_QUEUE": dead}, {}, need_secret=True)
        queue = JobQueue(make_huey(settings.queue))
        with serve_in_thread(create_app(settings, queue, probe=jail_probe())) as url:
            health = httpx.get(f"{url}/healthz")
    assert health.status_code == 503
    [problem] = [p for p in health.json()["problems"] if p.startswith("queue")]
    assert "unreachable" in problem and str(port) not in health.text and "127.0.0.1" not in health.text
    assert any(str(port) in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
