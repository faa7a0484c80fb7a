"""Building the running parts from settings, for ``guardrail serve`` and ``guardrail worker`` (and the tests, which
start the same commands as subprocesses): the queue, the jail probe, the worker's dependencies and huey's consumer.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
    return JobQueue(make_huey(settings.queue), lease_seconds=settings.lease_seconds)


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
        "GUARDRAIL_GIT_URL": settings.git_url,
    }
    assert set(values) == set(FIELDS)
    return values


def worker_deps(settings: ServerSettings, queue: JobQueue, env: Mapping[str, str]) -> WorkerDeps:
    """The worker's dependencies; ConfigError when the App's id or key is missing (workers cannot get tokens)."""
    from bot.errors import ConfigError
    from bot.github.pygithub_adapter import PyGithubAdapter

    if not settings.app_id:
        raise ConfigError("not set: workers need the App's id to get installation tokens", where="GUARDRAIL_APP_ID")
    credentials = AppCredentials(settings.app_id, settings.private_key())
    tokens = InstallationTokens(credentials, base_url=settings.api_url)

    def port_factory(token: str) -> GitHubPort:
        return PyGithubAdapter(token=token, base_url=settings.api_url)

    return WorkerDeps(settings, queue, tokens.get, port_factory, Metrics(), dict(env), mirrors=default_root(env))


def run_consumer(settings: ServerSettings, env: Mapping[str, str] | None = None) -> None:
    """Run huey's consumer with ``settings.workers`` worker processes until SIGINT/SIGTERM (huey's own handling)."""
    queue = make_queue(settings)
    queue.set_runner(make_runner(worker_deps(settings, queue, os.environ if env is None else env)))
    consumer = queue.huey.create_consumer(
        workers=settings.workers,
        worker_type="process",
        periodic=True,
        check_worker_health=True,
        health_check_interval=1,
        max_delay=1.0,
    )
    consumer.run()
