"""The App's web front under load: many concurrent signed deliveries on loopback, for the SQLite and the Redis queue.

    python -m benchmarks.server [--senders 200] [--rate 600] [--seconds 10] [--only sqlite|redis] [--json]

For each queue it starts ``guardrail serve --workers 0`` (the production command: uvicorn, the real app, a real
SQLite file or a real ``redis-server`` on a free port) and runs two phases with ``--senders`` keep-alive
connections, each delivery the recorded ``pull_request/opened`` payload (28 KB) with its own ``X-GitHub-Delivery``,
correctly signed:

- ``paced``: an open-loop load of ``--rate`` deliveries per second spread over the senders; a delivery's latency is
  counted from the moment it was due, not when its sender got round to it (no coordinated omission);
- ``flood``: every sender sends its next delivery as soon as the previous one is answered: the most it accepts.

Afterwards every delivery answered 202 must be in the queue (its job pending, its delivery record written); one
missing fails the run. It prints, per queue and phase, deliveries accepted per second, p50/p99/max latency, and the
ratios to the targets (p99 ≤ 50 ms with 200 senders at the paced rate, ≥ 500 accepted/s); exit 1 on a miss. The
load generator runs on the same machine (2 cores here), so it takes CPU from the server: the figures are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from bot.server.jobqueue import JobQueue, make_huey
from bot.server.signature import sign

SECRET = "benchmark secret"
PAYLOAD = Path(__file__).resolve().parents[1] / "tests/data/github/webhooks/pull_request/opened.json"
TARGET_P99_MS = 50.0
TARGET_RATE = 500.0


@dataclass(frozen=True)
class PhaseResult:
    queue: str
    phase: str
    senders: int
    sent: int
    accepted: int
    seconds: float
    accepted_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    other_statuses: dict[str, int]


def _payload_path() -> Path:
    for candidate in (PAYLOAD,):
        if candidate.is_file():
            return candidate
    raise SystemExit("benchmark: the recorded pull_request/opened.json payload was not found")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"benchmark: nothing answered on port {port} within {timeout:.0f} s")


_UNIQUE = b'"MDExOlB1bGxSZXF1ZXN0Mjc5MTQ3NDM3"'  # the PR's node_id in the recorded payload


def _request(template: bytes, port: int) -> bytes:
    """A new delivery: its own id, and its own bytes (a distinct node_id of the same length), so the server's replay
    check (same body under another id) does not refuse it; signed as GitHub signs."""
    delivery = str(uuid.uuid4())
    body = template.replace(_UNIQUE, b'"' + uuid.uuid4().hex.encode()[: len(_UNIQUE) - 2] + b'"', 1)
    head = (
        f"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"User-Agent: GitHub-Hookshot/benchmark\r\nX-GitHub-Event: pull_request\r\nX-GitHub-Delivery: {delivery}\r\n"
        f"X-Hub-Signature-256: {sign(SECRET.encode(), body)}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


def _delivery_of(request: bytes) -> str:
    start = request.index(b"X-GitHub-Delivery: ") + 19
    return request[start : request.index(b"\r\n", start)].decode()


async def _phase(port: int, body: bytes, senders: int, seconds: float, rate: float | None) -> tuple[list, list, float]:
    """Run one phase; returns (latencies in s of accepted deliveries, (status, delivery) of every answer, wall s)."""
    latencies: list[float] = []
    answers: list[tuple[int, str]] = []
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5
    end = start + seconds

    async def sender(index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        k = 0
        while True:
            due = start + (index / rate + k * senders / rate if rate else 0.0)
            now = loop.time()
            if due >= end or now >= end:
                break
            if due > now:
                await asyncio.sleep(due - now)
            sent_at = due if rate else loop.time()
            request = _request(body, port)
            status = await _exchange(reader, writer, request)
            answers.append((status, _delivery_of(request)))
            if status == 202:
                latencies.append(loop.time() - sent_at)
            k += 1
        writer.close()

    await asyncio.gather(*(sender(i) for i in range(senders)))
    return latencies, answers, max(loop.time() - start, 1e-9)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _result(queue: str, phase: str, senders: int, run: tuple[list, list, float]) -> PhaseResult:
    latencies, answers, wall = run
    accepted = sum(1 for status, _ in answers if status == 202)
    others: dict[str, int] = {}
    for status, _ in answers:
        if status != 202:
            others[str(status)] = others.get(str(status), 0) + 1
    return PhaseResult(
        queue=queue,
        phase=phase,
        senders=senders,
        sent=len(answers),
        accepted=accepted,
        seconds=round(wall, 2),
        accepted_per_s=round(accepted / wall, 1),
        p50_ms=round(statistics.median(latencies) * 1000, 2) if latencies else float("nan"),
        p99_ms=round(_percentile(latencies, 0.99) * 1000, 2),
        max_ms=round(max(latencies) * 1000, 2) if latencies else float("nan"),
        other_statuses=others,
    )


def _start_server(queue_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDRAIL_")}
    env |= {"GUARDRAIL_WEBHOOK_SECRET": SECRET, "GUARDRAIL_QUEUE": queue_url, "GUARDRAIL_WORKERS": "0"}
    argv = [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"), start_new_session=True)


def _start_redis(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("benchmark: redis-server is not installed (scripts/setup.sh installs it)")
    port = _free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp), "--appendonly", "yes"]
    proc = subprocess.Popen([*argv, "--appendfsync", "everysec", "--save", ""], stdout=subprocess.DEVNULL)
    _wait_port(port)
    return proc, f"redis://127.0.0.1:{port}/0"


def _check_all_queued(queue_url: str, answers: list[tuple[int, str]]) -> int:
    """How many deliveries answered 202 are missing from the queue (pending job or delivery record)."""
    queue = JobQueue(make_huey(queue_url))
    pending = {job.delivery_id for job in queue.pending_jobs()}
    return sum(1 for status, d in answers if status == 202 and (d not in pending or not queue.seen(d)))


def _start_delay_proxy(queue_url: str, rtt_ms: float) -> tuple[subprocess.Popen[bytes], str]:
    target = int(queue_url.rsplit(":", 1)[1].split("/", 1)[0])
    port = _free_port()
    argv = [sys.executable, "-m", "benchmarks.delay_proxy", "--listen", str(port), "--to", str(target)]
    proc = subprocess.Popen([*argv, "--rtt-ms", str(rtt_ms)], stdout=subprocess.DEVNULL)
    _wait_port(port)
    return proc, f"redis://127.0.0.1:{port}/0"


def bench_queue(
    name: str, senders: int, rate: float, seconds: float, tmp: Path, rtt_ms: float = 0.0
) -> tuple[list[PhaseResult], int]:
    redis = proxy = None
    if name == "redis":
        redis, queue_url = _start_redis(tmp)
    else:
        queue_url = str(tmp / "queue.sqlite3")
    served_url = queue_url
    if redis is not None and rtt_ms > 0:
        proxy, served_url = _start_delay_proxy(queue_url, rtt_ms)
    port = _free_port()
    server = _start_server(served_url, port, tmp / f"serve-{name}.log")
    try:
        _wait_port(port)
        body = _payload_path().read_bytes()
        results, everything = [], []
        for phase, phase_rate in (("paced", rate), ("flood", None)):
            run = asyncio.run(_phase(port, body, senders, seconds, phase_rate))
            everything += run[1]
            results.append(_result(name, phase, senders, run))
        missing = _check_all_queued(queue_url, everything)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        for helper in (proxy, redis):
            if helper is not None:
                helper.terminate()
                helper.wait(timeout=10)
    return results, missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.server", description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=200, help="concurrent connections (default 200)")
    parser.add_argument("--rate", type=float, default=600.0, help="paced phase: deliveries per second (default 600)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase (default 10)")
    parser.add_argument("--only", choices=("sqlite", "redis"), help="one queue only")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--redis-rtt-ms",
        type=float,
        default=0.0,
        help="Redis as if on another machine: this round-trip time added by a delaying proxy (default 0)",
    )
    parser.add_argument("--logs", type=Path, help="keep each server's JSON log lines in this folder")
    args = parser.parse_args(argv)
    queues = [args.only] if args.only else ["sqlite", "redis"]
    all_results: list[PhaseResult] = []
    missing_total = 0
    with tempfile.TemporaryDirectory(prefix="guardrail-bench-") as tmp:
        for name in queues:
            folder = Path(tmp) / name
            folder.mkdir()
            try:
                results, missing = bench_queue(name, args.senders, args.rate, args.seconds, folder, args.redis_rtt_ms)
            finally:
                if args.logs is not None:
                    args.logs.mkdir(parents=True, exist_ok=True)
                    shutil.copy(folder / f"serve-{name}.log", args.logs / f"serve-{name}.log")
            all_results += results
            missing_total += missing
            if missing:
                print(f"{name}: {missing} accepted deliveries are NOT in the queue", file=sys.stderr)
    ok = missing_total == 0
    for r in all_results:
        if r.phase == "paced":
            ok = ok and r.p99_ms <= TARGET_P99_MS and r.accepted_per_s >= TARGET_RATE * 0.98 and not r.other_statuses
        else:
            ok = ok and r.accepted_per_s >= TARGET_RATE
    if args.json:
        print(json.dumps({"results": [asdict(r) for r in all_results], "missing": missing_total, "ok": ok}, indent=2))
        return 0 if ok else 1
    print(
        f"{'queue':7} {'phase':6} {'senders':>7} {'sent':>6} {'accepted/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8} {'p99/50ms':>8} {'rate/500':>8}  other answers"
    )
    for r in all_results:
        print(
            f"{r.queue:7} {r.phase:6} {r.senders:7d} {r.sent:6d} {r.accepted_per_s:10.1f} {r.p50_ms:8.2f} "
            f"{r.p99_ms:8.2f} {r.max_ms:8.2f} {r.p99_ms / TARGET_P99_MS:8.2f} {r.accepted_per_s / TARGET_RATE:8.2f}"
            f"  {r.other_statuses or '-'}"
        )
    print(f"every accepted delivery in the queue: {'yes' if missing_total == 0 else f'NO ({missing_total} missing)'}")
    print(
        f"targets (paced p99 <= {TARGET_P99_MS:.0f} ms at {args.rate:.0f}/s; >= {TARGET_RATE:.0f} accepted/s): "
        f"{'met' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
