"""`guardrail serve`: the GitHub App's webhook server, with worker processes beside it.

    guardrail serve [--host 127.0.0.1] [--port 8000] [--workers N] [--queue PATH|redis://…] [...]

Settings come from the environment or the flags of the same names (``bot.server.settings``); the server refuses to
start without ``GUARDRAIL_WEBHOOK_SECRET``. ``--workers 0`` runs the web front only (workers elsewhere, on Redis).
Logs are JSON lines on stderr. Stop it with Ctrl-C or SIGTERM; the workers stop with it.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
from typing import Any

from bot.errors import ConfigError
from bot.server import multiproc

FLAG_HELP = {
    "GUARDRAIL_WEBHOOK_SECRET": "the App's webhook secret (prefer the variable: flags show in `ps`)",
    "GUARDRAIL_APP_ID": "the App's id (workers need it)",
    "GUARDRAIL_APP_PRIVATE_KEY": "path of the App's private key, a .pem file (workers need it)",
    "GITHUB_API_URL": "GitHub's API (default https://api.github.com; GHES: https://HOST/api/v3)",
    "GUARDRAIL_ADMIN_POLICY": "admin policy file or inline YAML (default: the embedded one)",
    "GUARDRAIL_QUEUE": "SQLite file or redis:// URL of the job queue (default: queue.sqlite3 in the state directory)",
    "GUARDRAIL_WORKERS": "worker processes (default 1; serve --workers 0 = the web front only)",
    "GUARDRAIL_LEASE_SECONDS": "a running job's lease; a dead worker's job runs again after it (default 30)",
    "GUARDRAIL_JOB_SECONDS": "the most one job may take; it is stopped and the PR told after (default 3600)",
    "GUARDRAIL_GIT_URL": "clone URL template with {repo} (default: the delivery's repository.clone_url)",
}


FLAG_METAVAR = {
    "GUARDRAIL_WEBHOOK_SECRET": "SECRET",
    "GUARDRAIL_APP_ID": "ID",
    "GUARDRAIL_APP_PRIVATE_KEY": "FILE",
    "GITHUB_API_URL": "URL",
    "GUARDRAIL_ADMIN_POLICY": "FILE",
    "GUARDRAIL_QUEUE": "FILE|URL",
    "GUARDRAIL_WORKERS": "N",
    "GUARDRAIL_LEASE_SECONDS": "SECONDS",
    "GUARDRAIL_JOB_SECONDS": "SECONDS",
    "GUARDRAIL_GIT_URL": "TEMPLATE",
}


def add_settings_flags(parser: argparse.ArgumentParser, *, secret: bool = True) -> None:
    """The settings' flags; ``secret=False`` (``worker``, which checks no signature) keeps ``--webhook-secret``
    accepted, so one command line serves both, but out of the help."""
    from bot.server.settings import FIELDS

    for name, flag in FIELDS.items():
        shown = secret or name != "GUARDRAIL_WEBHOOK_SECRET"
        text = f"{FLAG_HELP[name]}; ${name}" if shown else argparse.SUPPRESS
        parser.add_argument(flag, dest=name, default=None, metavar=FLAG_METAVAR.get(name, "VALUE"), help=text)


def flags_of(args: argparse.Namespace) -> dict[str, str | None]:
    from bot.server.settings import FIELDS

    return {name: getattr(args, name) for name in FIELDS}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the GitHub App: the webhook server and its workers",
        description=(
            "Run the GitHub App: a webhook server that checks each delivery's signature and queues it, and worker "
            "processes that review the pull requests. Each setting comes from its flag or its environment variable."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    add_settings_flags(parser)
    parser.set_defaults(run=run)


def _listen(host: str, port: int) -> socket.socket:
    """The web front's socket, bound before any worker starts. A port in use or an address that is not this
    machine's is a ConfigError naming the flags (exit 2); uvicorn, binding itself, only logged it and exited 3."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:  # socket.gaierror: a host name that does not resolve
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc})", where="--host/--port") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a restart right after a stop
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc})", where="--host/--port") from None
    return sock


def _server(uvicorn: Any, config: Any, sock: socket.socket) -> Any:
    """A uvicorn server that, once started on ``sock``, logs where it listens (uvicorn says so only when it binds
    the socket itself)."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host

    class Server(uvicorn.Server):  # type: ignore[misc]
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                message = "Uvicorn running on http://%s:%d (Press CTRL+C to quit)"
                logging.getLogger("uvicorn.error").info(message, shown, port)

    return Server(config)


def _start_workers(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "worker"], env=env)


def run(args: argparse.Namespace) -> int:
    """Entry point of `guardrail serve`."""
    from bot.server.settings import settings_from, weaknesses

    settings = settings_from(os.environ, flags_of(args), need_secret=True)
    if not 0 < args.port < 65536:
        raise ConfigError(f"{args.port} is not a TCP port", where="--port")
    sock = _listen(args.host, args.port)  # before anything is started or made: a port in use stops here
    made_dir = multiproc.claim(bool(settings.workers))  # the workers' metrics then show on this /metrics
    import uvicorn

    from bot.server import logs, runtime
    from bot.server.app import create_app

    logs.configure()
    for line in weaknesses(settings, flags_of(args), secret=True):
        logging.getLogger("guardrail.server.settings").warning("%s", line)
    queue = runtime.make_queue(settings)
    if settings.workers:
        runtime.worker_deps(settings, queue, os.environ)  # the App's id and key are checked before anything starts
    app = create_app(settings, queue, probe=runtime.jail_probe())
    where = f"http://{args.host}:{args.port}/webhook"
    logging.getLogger("guardrail.server").info("webhooks on %s; job queue: %s", where, queue.describe())
    child_env = os.environ | runtime.settings_env(settings) | {runtime.SERVE_PID_ENV: str(os.getpid())}
    del child_env["GUARDRAIL_WEBHOOK_SECRET"]  # workers check no signature: the processes near PR code never hold it
    workers = _start_workers(child_env) if settings.workers else None
    try:
        config = uvicorn.Config(app, host=args.host, port=args.port, log_config=None, access_log=False, lifespan="on")
        server = _server(uvicorn, config, sock)
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:
            pass
        if not server.started:  # its lifespan failed: uvicorn logged why (uvicorn.run's own exit status)
            return 3
    finally:
        sock.close()
        if workers is not None:
            workers.send_signal(signal.SIGTERM)
            try:
                workers.wait(timeout=30)
            except subprocess.TimeoutExpired:
                workers.kill()
                workers.wait()
        multiproc.release(made_dir)
    return 0
