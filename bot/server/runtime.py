"""Building the running parts from settings, for ``guardrail serve`` and ``guardrail worker`` (and the tests, which
start the same commands as subprocesses): the queue, the jail probe, the worker's dependencies and huey's consumer.
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from huey.consumer import Consumer, ProcessEnvironment

from bot.errors import ConfigError
from bot.github.app_auth import AppCredentials, InstallationTokens
from bot.github.port import GitHubPort
from bot.server.app import Probe
from bot.server.jobqueue import JobQueue, make_huey
from bot.server.metrics import Metrics
from bot.server.mirror import default_root
from bot.server.settings import FIELDS, ServerSettings
from bot.server.worker import WorkerDeps, make_runner


@dataclass(frozen=True)
class _Status:
    ok: bool
    message: str


def jail_probe() -> Probe:
    """``checks.jail.probe`` (the jail's own check); where that module is missing, a probe that fails closed."""
    try:
        module: Any = importlib.import_module("checks.jail")
    except ModuleNotFoundError:

        def missing() -> _Status:
            return _Status(False, "checks.jail is not installed: PR code cannot be jailed; reinstall Guardrail")

        return missing
    probe: Probe = module.probe
    return probe


def make_queue(settings: ServerSettings) -> JobQueue:
    return JobQueue(make_huey(settings.queue), lease_seconds=settings.lease_seconds, job_seconds=settings.job_seconds)


def settings_env(settings: ServerSettings) -> dict[str, str]:
    """The settings as the environment variables a child ``guardrail worker`` reads (never on its command line)."""
    values = {
        "GUARDRAIL_WEBHOOK_SECRET": settings.webhook_secret,
        "GUARDRAIL_APP_ID": settings.app_id,
        "GUARDRAIL_APP_PRIVATE_KEY": str(settings.private_key_path or ""),
        "GITHUB_API_URL": settings.api_url,
        "GUARDRAIL_ADMIN_POLICY": settings.admin_policy,
        "GUARDRAIL_QUEUE": settings.queue,
        "GUARDRAIL_WORKERS": str(settings.workers),
        "GUARDRAIL_LEASE_SECONDS": str(settings.lease_seconds),
        "GUARDRAIL_JOB_SECONDS": str(settings.job_seconds),
        "GUARDRAIL_GIT_URL": settings.git_url,
    }
    assert set(values) == set(FIELDS)
    return values


def worker_deps(settings: ServerSettings, queue: JobQueue, env: Mapping[str, str]) -> WorkerDeps:
    """The worker's dependencies; ConfigError when the App's id or key is missing (workers cannot get tokens)."""
    from bot.github.pygithub_adapter import PyGithubAdapter

    if not settings.app_id:
        raise ConfigError("not set: workers need the App's id to get installation tokens", where="GUARDRAIL_APP_ID")
    credentials = AppCredentials(settings.app_id, settings.private_key())
    tokens = InstallationTokens(credentials, base_url=settings.api_url)

    def port_factory(token: str) -> GitHubPort:
        return PyGithubAdapter(token=token, base_url=settings.api_url)

    return WorkerDeps(settings, queue, tokens.get, port_factory, Metrics(), dict(env), mirrors=default_root(env))


SERVE_PID_ENV = "GUARDRAIL_SERVE_PID"
_QUEUE_WHERE = "GUARDRAIL_QUEUE (--queue)"
log = logging.getLogger("guardrail.server.runtime")
_PR_SET_PDEATHSIG = 1  # prctl(2)


def _die_with_parent(parent: int, sig: int) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies (prctl(2) ``PR_SET_PDEATHSIG``); False when
    the parent (pid ``parent``) is already gone, so that nobody would send it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    return os.getppid() == parent


def die_with_serve() -> bool:
    """In a ``guardrail worker`` that ``guardrail serve`` started (``GUARDRAIL_SERVE_PID`` names it): SIGTERM when
    serve dies, even by ``kill -9``, so no orphaned worker goes on taking jobs beside the next serve's; if serve is
    already gone, stop now. Returns whether serve started this worker (elsewhere: False, nothing done)."""
    raw = os.environ.pop(SERVE_PID_ENV, "")
    if not raw.isdigit():
        return False
    if not _die_with_parent(int(raw), signal.SIGTERM):
        raise SystemExit("guardrail worker: guardrail serve, which started it, is gone")
    return True


class _ChildrenDieWithConsumer(ProcessEnvironment):  # type: ignore[misc]
    """huey's process environment, whose worker and scheduler processes are killed when their consumer dies.

    huey forks them before it sets the consumer's signal handlers, and they stop only through a flag the consumer
    sets: a consumer killed in between (a SIGTERM at start-up, ``kill -9``, an out-of-memory kill) left them running
    for ever, taking jobs. A job a killed worker held runs again when its lease ends."""

    def __init__(self, *args: Any, consumer_pid: int) -> None:
        super().__init__(*args)
        self.consumer_pid = consumer_pid

    def init_child(self, process: Any) -> None:
        super().init_child(process)
        if not _die_with_parent(self.consumer_pid, signal.SIGKILL):
            os._exit(0)


class _Consumer(Consumer):  # type: ignore[misc]
    def get_environment(self, worker_type: str) -> Any:
        if worker_type != "process":
            return super().get_environment(worker_type)
        return _ChildrenDieWithConsumer(self._graceful_sig, self._interrupt_sig, consumer_pid=os.getpid())


def serve_metrics(queue: JobQueue, address: tuple[str, int]) -> None:
    """Serve the workers' metrics (prometheus-client's multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` must be set
    before prometheus_client is imported) and the queue's depth on ``http://HOST:PORT/metrics``, in a thread."""
    from prometheus_client import start_http_server

    registry = Metrics(depth=queue.depth).registry
    try:
        start_http_server(address[1], addr=address[0], registry=registry)
    except OSError as exc:
        where = "GUARDRAIL_METRICS_PORT (--metrics-port)"
        raise ConfigError(f"cannot listen on {address[0]}:{address[1]} ({exc.strerror})", where=where) from exc


def run_consumer(
    settings: ServerSettings,
    env: Mapping[str, str] | None = None,
    *,
    metrics_at: tuple[str, int] | None = None,
    check_queue: bool = True,
) -> None:
    """Run huey's consumer with ``settings.workers`` worker processes until SIGINT/SIGTERM (huey's own handling);
    with ``metrics_at`` (host, port), their metrics are served there. ``check_queue``: a queue that does not answer
    at start is a ConfigError naming it (huey would log a traceback a second); serve's own workers wait for it
    instead, as serve does."""
    queue = make_queue(settings)
    queue.set_runner(make_runner(worker_deps(settings, queue, os.environ if env is None else env)))
    try:
        if check_queue:
            queue.depth()
    except Exception as exc:  # any failure: the workers could take no job; say where once, not a traceback a second
        detail = f"{type(exc).__name__}: {exc}"[:300]
        raise ConfigError(f"cannot reach the job queue, {queue.describe()} ({detail})", where=_QUEUE_WHERE) from exc
    if metrics_at is not None:
        serve_metrics(queue, metrics_at)
    metrics_note = f"; metrics on http://{metrics_at[0]}:{metrics_at[1]}/metrics" if metrics_at else ""
    log.info("%d worker process(es) on the job queue: %s%s", settings.workers, queue.describe(), metrics_note)
    consumer = _Consumer(
        queue.huey,
        workers=settings.workers,
        worker_type="process",
        periodic=True,
        check_worker_health=True,
        health_check_interval=1,
        max_delay=1.0,
    )
    consumer.run()
