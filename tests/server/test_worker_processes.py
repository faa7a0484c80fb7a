"""The App's processes as an operator runs them: `guardrail serve` with its worker child, and a worker machine's
own /metrics. Real processes, a real SQLite queue, the fake GitHub."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from bot.server.deliveries import Job
from bot.server.jobqueue import JobQueue, make_huey
from tests.fakes.github_server import FakeGitHub
from tests.server.server_world import SECRET, Process, free_port, wait_until, write_app_key


def _env(tmp: Path, api_url: str, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GUARDRAIL_", "GITHUB_", "PROMETHEUS_"))}
    return base | {
        "GUARDRAIL_WEBHOOK_SECRET": SECRET,
        "GUARDRAIL_APP_ID": "99",
        "GUARDRAIL_APP_PRIVATE_KEY": str(write_app_key(tmp / "app.pem")),
        "GITHUB_API_URL": api_url,
        "GUARDRAIL_QUEUE": str(tmp / "queue.sqlite3"),
        "GUARDRAIL_CACHE_DIR": str(tmp / "cache"),
        "GUARDRAIL_AUDIT_DB": str(tmp / "audit.sqlite3"),
        **extra,
    }


def _descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` (from /proc/<pid>/task/<tid>/children, Linux)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = {int(c) for c in (task / "children").read_text().split()}
            except OSError:
                continue
            todo += children - found
            found |= children
    return found


def _describe(pid: int) -> str:
    try:
        status = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "gone"
    return f"{command} state={status.get('State')} ppid={status.get('PPid')} sigcgt={status.get('SigCgt')}"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_serve_killed_with_sigkill_takes_its_workers_with_it(tmp_path: Path) -> None:
    serve = Process(
        ["serve", "--port", str(free_port())],
        _env(tmp_path, "http://127.0.0.1:9", GUARDRAIL_WORKERS="2"),
        tmp_path / "serve.log",
    )
    # serve, its `guardrail worker` child and that consumer's worker and scheduler processes
    _kill_and_expect_descendants_gone(serve, at_least=3)


def test_a_worker_killed_with_sigkill_takes_its_worker_processes_with_it(tmp_path: Path) -> None:
    # huey forks its worker and scheduler processes, which stop only when their consumer tells them to
    worker = Process(["worker", "--workers", "2"], _env(tmp_path, "http://127.0.0.1:9"), tmp_path / "worker.log")
    _kill_and_expect_descendants_gone(worker, at_least=3)  # two workers and the scheduler


def _kill_and_expect_descendants_gone(process: Process, at_least: int) -> None:
    """Wait until ``process`` has ``at_least`` descendants, ``kill -9`` it alone, and expect them all gone."""
    try:

        def started() -> set[int] | None:
            found = _descendants(process.proc.pid)
            return found if len(found) >= at_least else None

        children = wait_until(started, 60, "the worker processes to start")
        os.kill(process.proc.pid, signal.SIGKILL)
        process.proc.wait()
        try:
            wait_until(lambda: not any(_alive(pid) for pid in children), 30, "the orphaned processes to stop")
        except AssertionError:
            left = {pid: _describe(pid) for pid in children if _alive(pid)}
            log = process.log.read_text()[-3000:]
            raise AssertionError(f"still running after the kill -9: {left}\n{log}") from None
    finally:
        process.kill_group()


def test_a_worker_machine_serves_its_own_metrics(tmp_path: Path) -> None:
    with FakeGitHub() as fake:
        fake.add_repo("acme/widgets")
        fake.add_installation(7, "acme/widgets", app_id=99)
        port = free_port()
        scratch = tmp_path / "tmp"  # the worker's TMPDIR: where its metrics folder is made, and removed at exit
        scratch.mkdir()
        env = _env(
            tmp_path, fake.base_url, GUARDRAIL_WORKERS="1", GUARDRAIL_METRICS_PORT=str(port), TMPDIR=str(scratch)
        )
        queue = JobQueue(make_huey(env["GUARDRAIL_QUEUE"]))
        # a job for a pull request GitHub does not have: the worker fails it, says so, and counts it
        job = Job("d-missing", "pull_request", "opened", "acme/widgets", 404, "review", 7, "", head_sha="a" * 40)
        assert queue.accept("d-missing", job) == "queued"
        worker = Process(["worker"], env, tmp_path / "worker.log")
        try:

            def scraped() -> str | None:
                try:
                    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
                except httpx.TransportError:
                    return None
                # the queue's depth is 0 once the job is taken (huey's minutely recovery task can pass through it)
                done = 'guardrail_job_seconds_count{outcome="failed"} 1.0' in text
                return text if done and "guardrail_queue_depth 0.0" in text else None

            wait_until(scraped, 90, "the failed job and an empty queue to show on the worker's /metrics")
            assert [p.name.split("-")[2] for p in scratch.glob("guardrail-metrics-*")] == [str(worker.proc.pid)]
        finally:
            worker.stop()
        assert not list(scratch.glob("guardrail-metrics-*"))


def test_metrics_folders_of_processes_that_are_gone_are_removed_by_the_next_start(tmp_path: Path) -> None:
    from bot.server import multiproc

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = tmp_path / f"{multiproc.PREFIX}{gone.pid}-abc"
    stale.mkdir()
    (stale / "counter_1.db").write_bytes(b"\0" * 16)
    living = tmp_path / f"{multiproc.PREFIX}{os.getpid()}-def"
    living.mkdir()
    foreign = tmp_path / f"{multiproc.PREFIX}notapid"
    foreign.mkdir()
    assert multiproc.remove_stale(tmp_path) == [stale]
    assert not stale.exists() and living.exists() and foreign.exists()


def test_a_worker_machine_whose_redis_does_not_answer_says_so_once_and_stops(tmp_path: Path) -> None:
    env = _env(tmp_path, "http://127.0.0.1:9", GUARDRAIL_QUEUE=f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "worker"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    [line] = [x for x in done.stderr.splitlines() if not x.startswith("{")]
    assert line.startswith("guardrail: configuration error: GUARDRAIL_QUEUE (--queue): cannot reach the job queue")
    assert "Redis at 127.0.0.1:" in line and "hunter2" not in done.stderr and "Traceback" not in done.stderr
