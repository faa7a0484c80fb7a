"""The web front: ``create_app(settings, queue, probe=...) -> Starlette``, served by uvicorn.

    POST /webhook   size cap (Content-Length, then counted while streaming) → X-Hub-Signature-256 on the raw bytes →
                    headers → JSON → which job (``deliveries.classify``) → delivery record + job in the queue → 202
                    401 bad or missing signature (nothing stored) · 400 malformed · 413 over 25 MB · 408 a body
                    slower than 10 s · 200 a redelivery (nothing run again) · 503 the queue cannot be written
                    (GitHub's redelivery can try again)
    GET /healthz    200 when the queue answers and the jail probe passed, else 503 saying which and why
    GET /metrics    Prometheus text format (``bot.server.metrics``)

The handler does no GitHub call and no git work: it answers in milliseconds (GitHub gives up after 10 s and does not
redeliver by itself, FACTS.md §1.3). Every log line names the delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.errors import ConfigError
from bot.github.event import Ignored
from bot.server.deliveries import Job, classify
from bot.server.jobqueue import JobQueue
from bot.server.logs import DELIVERY
from bot.server.metrics import CONTENT_TYPE, Metrics
from bot.server.settings import ServerSettings
from bot.server.signature import verify

log = logging.getLogger("guardrail.server.webhook")

MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB and does not deliver larger ones (FACTS.md §1.2)
PROBE_CACHE_SECONDS = 30.0
FAILED_PROBE_CACHE_SECONDS = 5.0  # a failed jail probe is run again after this (a fixed jail shows soon)
# GitHub sends the whole delivery at once and gives up after 10 s (FACTS.md §1.3): a body still arriving after that
# is not GitHub's.
BODY_SECONDS = 10.0
# X-GitHub-Delivery is a GUID (FACTS.md §1.2); anything else is refused before it becomes a key in the queue.
_DELIVERY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# Events with a label of their own in the metrics; any other name counts as "other", so that requests nobody signed
# cannot create one time series per made-up event name.
KNOWN_EVENTS = frozenset(
    {
        "pull_request",
        "issue_comment",
        "check_run",
        "check_suite",
        "installation",
        "installation_repositories",
        "ping",
        "push",
        "pull_request_review",
        "pull_request_review_comment",
        "pull_request_review_thread",
        "issues",
        "status",
        "workflow_run",
    }
)


class ProbeResult(Protocol):
    @property
    def ok(self) -> bool: ...

    @property
    def message(self) -> str: ...


Probe = Callable[[], ProbeResult]


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, seconds: float) -> bytes:
    """The raw body, refusing (without reading on) anything over ``MAX_BODY_BYTES``; TimeoutError when it takes over
    ``seconds`` (a sender trickling bytes would otherwise hold a connection and a task for ever: uvicorn has no
    body timeout)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _TooLarge
    body = bytearray()
    async with asyncio.timeout(seconds):
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise _TooLarge
    return bytes(body)


def _shown(value: str, limit: int = 100) -> str:
    """A header value as the log shows it: at most ``limit`` characters (a GUID and GitHub's event names are far
    shorter), so that a stranger's request cannot write kilobytes into every log line it causes."""
    return value if len(value) <= limit else f"{value[:limit]}…(+{len(value) - limit} characters)"


def _answer(status: int, outcome: str, detail: str = "") -> JSONResponse:
    content = {"outcome": outcome} | ({"detail": detail} if detail else {})
    return JSONResponse(content, status_code=status)


def create_app(
    settings: ServerSettings,
    queue: JobQueue,
    *,
    probe: Probe,
    metrics: Metrics | None = None,
    clock: Callable[[], float] = time.monotonic,
    body_seconds: float = BODY_SECONDS,
) -> Starlette:
    """The App's web front. ``probe`` is the jail probe (``checks.jail.probe`` in production); ``metrics`` defaults to
    a fresh set reading the queue's depth; a body not received within ``body_seconds`` is answered 408."""
    metrics = metrics or Metrics(depth=queue.depth)
    secret = settings.secret_bytes
    probed: dict[str, tuple[float, bool, str]] = {}
    probe_lock = asyncio.Lock()

    async def webhook(request: Request) -> Response:
        started = clock()
        delivery = request.headers.get("x-github-delivery", "").strip()
        event = request.headers.get("x-github-event", "").strip()
        shown = _shown(delivery) or None  # what the log says: headers are anybody's until the signature is checked
        token = DELIVERY.set(shown)
        try:
            response, outcome = await _handle(request, delivery, event)
        finally:
            DELIVERY.reset(token)
        metrics.deliveries.labels(event if event in KNOWN_EVENTS else "other", outcome).inc()
        log.info(
            "%s %s -> %d %s",
            _shown(event) or "-",
            request.headers.get("content-length", "?"),
            response.status_code,
            outcome,
            extra={"delivery_id": shown, "ms": round((clock() - started) * 1000, 2)},
        )
        return response

    async def _handle(request: Request, delivery: str, event: str) -> tuple[Response, str]:
        try:
            body = await _read_body(request, body_seconds)
        except _TooLarge:
            return _answer(413, "too_large", f"over GitHub's {MAX_BODY_BYTES} byte limit"), "too_large"
        except TimeoutError:
            return _answer(408, "timeout", f"the body did not arrive within {body_seconds:g} s"), "timeout"
        except ClientDisconnect:  # nobody reads the answer; counted, not a traceback
            return _answer(400, "disconnected", "the sender went away before its body ended"), "disconnected"
        if not verify(secret, body, request.headers.get("x-hub-signature-256")):
            return _answer(401, "unsigned", "X-Hub-Signature-256 is missing or wrong"), "unsigned"
        if not _DELIVERY_RE.fullmatch(delivery) or not event:
            detail = "X-GitHub-Delivery (a GUID) and X-GitHub-Event are required"
            return _answer(400, "malformed", detail), "malformed"
        if "json" not in request.headers.get("content-type", "application/json"):
            detail = "set the webhook's content type to application/json"
            return _answer(400, "malformed", detail), "malformed"
        try:
            classified = classify(event, json.loads(body), delivery, app_id=settings.app_id)
        except (ValueError, ConfigError) as exc:
            return _answer(400, "malformed", str(exc)[:300]), "malformed"
        job = classified if isinstance(classified, Job) else None
        try:
            accepted = await queue.accept_async(delivery, job, body_sha256=hashlib.sha256(body).hexdigest())
        except Exception as exc:  # the queue is down: say so, so GitHub shows a failed delivery to redeliver
            log.error("the queue could not be written: %s", exc, extra={"delivery_id": delivery})
            return _answer(503, "unavailable", "the job queue could not be written"), "unavailable"
        if accepted == "duplicate":
            return _answer(200, "duplicate", "this delivery was accepted before; it is not run again"), "duplicate"
        if accepted == "replay":
            detail = "this payload was accepted before under another delivery id; it is not run again"
            return _answer(200, "replay", detail), "replay"
        if isinstance(classified, Ignored):
            outcome = "noted" if classified.reason.startswith("noted") else "ignored"
            return _answer(202, outcome, classified.message), outcome
        return _answer(202, "queued"), "queued"

    async def healthz(request: Request) -> Response:
        problems = []
        try:
            depth = await run_in_threadpool(queue.depth)
        except Exception as exc:  # any failure means unreachable; the log says where and why, /healthz (open to
            depth = -1  # anyone) only what kind of failure: the queue's address is nobody else's business
            log.error("/healthz: the queue is unreachable: %s: %s", type(exc).__name__, exc)
            problems.append(f"queue unreachable: {type(exc).__name__} (the server's log has the details)")
        ok, message = await _probe()
        if not ok:
            problems.append(f"jail probe failed: {message}")
        content = {"ok": not problems, "queue_depth": depth, "jail": message, "problems": problems}
        return JSONResponse(content, status_code=200 if not problems else 503)

    async def _probe() -> tuple[bool, str]:
        # One probe at a time, and a failure is kept a few seconds too: /healthz answers anyone, and each probe
        # starts a process (bwrap)
        async with probe_lock:
            cached = probed.get("jail")
            keep = PROBE_CACHE_SECONDS if cached is not None and cached[1] else FAILED_PROBE_CACHE_SECONDS
            if cached is not None and clock() - cached[0] < keep:
                return cached[1], cached[2]
            result = await run_in_threadpool(probe)
            probed["jail"] = (clock(), result.ok, result.message)
            return result.ok, result.message

    async def metrics_endpoint(request: Request) -> Response:
        return Response(await run_in_threadpool(metrics.exposition), media_type=CONTENT_TYPE)

    routes = [
        Route("/webhook", webhook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await queue.astart()
        yield
        await queue.aclose()

    return Starlette(routes=routes, lifespan=lifespan)
