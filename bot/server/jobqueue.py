"""The job queue: huey (SqliteHuey on one machine, RedisHuey for ``redis://``), plus the few records huey does not
keep, all in huey's own key-value storage so that SQLite and Redis run the same code:

    delivery:<X-GitHub-Delivery>   written together with the job, only if absent: a redelivery finds it and is
                                   answered 200 without a second job (SQLite: INSERT OR ABORT on the primary key,
                                   in the job's transaction; Redis: HSETNX in the job's Lua script; both atomic
                                   across processes and machines)
    body:<sha256 of the body>      the same for the signed bytes: the delivery id is not covered by the signature,
                                   so a captured delivery replayed under a new id is refused as a replay
    head:<owner/name>#<number>     ``<updated_at>|<sha>``: the PR head of the newest pull_request delivery, by the
                                   PR's updated_at (GitHub delivers concurrently: an older push arriving after a
                                   newer one does not replace it); a job remembers the head it was accepted under
                                   (``seen_head``) and is superseded when it changes (checked before it starts, at
                                   each step, before posting)
    claim:<delivery>:<attempt>     put_if_empty when a worker starts a job: no two workers run the same attempt
    running:<delivery>:<attempt>   the job, its worker (host, pid) and a lease the worker renews while it runs
    done:<delivery>                the job finished (ran, was superseded, or was refused)

Why the lease: huey removes a task from the queue when a worker takes it, so a worker killed with ``kill -9``
loses it (huey's documented at-most-once delivery). ``recover()`` runs when a worker process starts and every
minute; it re-enqueues each running record whose lease ran out, or whose worker process on this host is gone,
as the next attempt (claimed with put_if_empty, so two recovering workers enqueue it once). The reporters find
what an interrupted attempt already posted by their hidden markers and update it, so the PR gets no duplicates.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeGuard, cast

import anyio.to_thread
import redis
import redis.asyncio
import redis.asyncio.connection
from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.api import TaskWrapper
from huey.storage import RedisStorage, SqliteStorage

from bot.server.deliveries import Job

log = logging.getLogger("guardrail.server.queue")

Accepted = Literal["queued", "noted", "duplicate", "replay"]
Runner = Callable[[Job], None]
DELIVERY_TTL = 7 * 24 * 3600.0  # GitHub lets a delivery be redelivered for 3 days (FACTS.md §1.3); keep a week
QUEUE_NAME = "guardrail"
REDIS_CONNECTIONS = 32  # the web front's asyncio connections to Redis, at most
WARM_CONNECTIONS = 8  # opened at its start


class Superseded(Exception):
    """The job's head is no longer the PR's newest: stop, post nothing."""


def make_huey(queue: str) -> Huey:
    """SqliteHuey for a file path (its folder is created), RedisHuey for a ``redis://`` URL. Task results are not
    stored: a job reports to GitHub, not to a caller."""
    if queue.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(QUEUE_NAME, url=queue, results=False)
    path = Path(queue).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(QUEUE_NAME, filename=str(path), results=False, journal_mode="wal", storage_class=_Sqlite)


class _Sqlite(SqliteStorage):  # type: ignore[misc]
    """huey's SQLite storage in WAL mode with ``synchronous=NORMAL``: a commit survives the process being killed
    (what "accepted" promises) and the file stays consistent through an operating-system crash, which may lose the
    last commits (SQLite: "WAL mode is always consistent with synchronous=NORMAL"); no fsync per delivery."""

    def _create_connection(self) -> Any:
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn


@dataclass(frozen=True)
class Lease:
    job: Job
    host: str
    pid: int
    started: str | None  # process_started(pid) when the lease was taken
    until: float

    def dump(self) -> bytes:
        data = {"job": self.job.as_dict(), "host": self.host, "pid": self.pid, "started": self.started}
        return json.dumps(data | {"until": self.until}).encode()

    @classmethod
    def load(cls, raw: bytes) -> Lease:
        data = json.loads(bytes(raw))
        job = Job.from_dict(data["job"])
        return cls(job, data["host"], int(data["pid"]), data.get("started"), float(data["until"]))


def process_started(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from ``/proc/<pid>/stat``), or None when it is gone or
    a zombie. A lease names its worker by pid and start time, so a recycled pid is not mistaken for the worker, and
    a killed worker that nobody has reaped yet (a zombie) counts as dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state is field 3, starttime field 22
    return None if fields[0] in ("Z", "X") else fields[19]


@dataclass(frozen=True)
class _Writes:
    """What accepting one delivery writes: its record, its body's hash, the PR's newest head, the task."""

    delivery: str
    record: bytes
    body: str
    head: tuple[str, str, str] | None  # key, sha, the PR's updated_at ("" when unknown)
    task: bytes | None

    @property
    def head_value(self) -> bytes:
        return _head_value(*self.head[1:]) if self.head else b""


def _head_value(sha: str, stamp: str) -> bytes:
    return f"{stamp}|{sha}".encode() if stamp else sha.encode()


def _head_sha(value: bytes) -> str:
    return value.decode().rsplit("|", 1)[-1]


def _newer_head(stored: object, stamp: str) -> bool:
    """Whether a delivery stamped ``stamp`` replaces the ``stored`` head (bytes, or anything else for none): yes
    unless both are stamped and the stored one is later (on a tie, the later arrival wins)."""
    if not isinstance(stored, (bytes, memoryview)) or not stamp or b"|" not in bytes(stored):
        return True
    return bytes(stored).decode().split("|", 1)[0] <= stamp


def _needs_seen_head(job: Job | None) -> TypeGuard[Job]:
    """A job that is not a push (a slash command, a re-run) remembers the PR's newest head when it is accepted: a
    later push supersedes it."""
    return job is not None and job.event != "pull_request"


def _sqlite_writes(curs: Any, storage: Any, w: _Writes) -> Accepted:
    insert = "insert or abort into kv (queue, key, value) values (?, ?, ?)"
    unique: tuple[tuple[str, Accepted], ...] = ((w.delivery, "duplicate"), (w.body, "replay"))
    for key, answer in unique:
        if not key:
            continue
        try:
            curs.execute(insert, (storage.name, key, w.record))
        except storage.integrity_error:
            return answer
    if w.task is None:
        return "noted"
    if w.head is not None:
        curs.execute("select value from kv where queue = ? and key = ?", (storage.name, w.head[0]))
        row = curs.fetchone()
        if _newer_head(row[0] if row else None, w.head[2]):
            replace = "insert or replace into kv (queue, key, value) values (?, ?, ?)"
            curs.execute(replace, (storage.name, w.head[0], w.head_value))
    curs.execute("insert into task (queue, data, priority) values (?, ?, 0)", (storage.name, w.task))
    return "queued"


def _accept_sqlite(storage: Any, w: _Writes, *, wait: bool = True) -> Accepted | None:
    """One ``BEGIN EXCLUSIVE`` transaction on huey's connection (under huey's own lock): everything or nothing is
    written. With ``wait=False`` it gives up at once (None, nothing written) when another thread of this process
    or another process holds the database; with ``wait=True`` it waits up to huey's busy timeout (5 s), then
    raises ``sqlite3.OperationalError``."""
    if not storage.lock.acquire(blocking=wait):
        return None
    try:
        conn = storage.conn
        if not wait:
            conn.execute("pragma busy_timeout=0")
        try:
            curs = conn.cursor()
            try:
                curs.execute(storage.begin_sql)
            except sqlite3.OperationalError:
                if wait:
                    raise
                return None
            try:
                answer = _sqlite_writes(curs, storage, w)
            except BaseException:
                conn.rollback()
                raise
            if answer in ("duplicate", "replay"):
                conn.rollback()
            else:
                conn.commit()
            return answer
        finally:
            if not wait:
                conn.execute(f"pragma busy_timeout={int(storage._timeout * 1000)}")
    finally:
        storage.lock.release()


_ACCEPT_LUA = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 'duplicate' end
if ARGV[3] ~= '' and redis.call('HSETNX', KEYS[1], ARGV[3], ARGV[2]) == 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 'replay'
end
if ARGV[6] == '' then return 'noted' end
if ARGV[4] ~= '' then
  local old = redis.call('HGET', KEYS[1], ARGV[4])
  if (not old) or ARGV[7] == '' or (not string.find(old, '|', 1, true)) or string.match(old, '^[^|]*') <= ARGV[7] then
    redis.call('HSET', KEYS[1], ARGV[4], ARGV[5])
  end
end
redis.call('LPUSH', KEYS[2], ARGV[6])
return 'queued'
"""


def _redis_args(w: _Writes) -> list[Any]:
    head_key, stamp = (w.head[0], w.head[2]) if w.head else ("", "")
    return [w.delivery, w.record, w.body, head_key, w.head_value, w.task or b"", stamp]


def _decoded(answer: Any) -> Accepted:
    return cast(Accepted, answer.decode() if isinstance(answer, bytes) else answer)


def _accept_redis(storage: Any, w: _Writes) -> Accepted:
    script = getattr(storage, "_guardrail_accept", None)
    if script is None:
        script = storage._guardrail_accept = storage.conn.register_script(_ACCEPT_LUA)
    return _decoded(script(keys=[storage.result_key, storage.queue_key], args=_redis_args(w)))


class _AsyncRedis:
    """An asyncio client to huey's Redis (same server, database and credentials as huey's connection pool), made
    in the event loop that first uses it, for the web front's accept: a round trip to a Redis on another machine
    then holds only the delivery that waits on it, not the server."""

    def __init__(self, storage: Any) -> None:
        sync_pool = storage.conn.connection_pool
        connection_class = getattr(redis.asyncio.connection, sync_pool.connection_class.__name__)
        # At most REDIS_CONNECTIONS connections; a delivery waits for a free one (up to 5 s, then 503) rather than
        # failing when a burst of deliveries outnumbers them (redis-py's plain pool raises "Too many connections").
        pool = redis.asyncio.BlockingConnectionPool(
            connection_class=connection_class,
            max_connections=REDIS_CONNECTIONS,
            timeout=5,
            **sync_pool.connection_kwargs,
        )
        self.client = redis.asyncio.Redis.from_pool(pool)  # the client owns the pool: aclose() disconnects it
        self.script = self.client.register_script(_ACCEPT_LUA)
        self.keys = [storage.result_key, storage.queue_key]
        self.loop = asyncio.get_running_loop()

    async def accept(self, w: _Writes) -> Accepted:
        return _decoded(await self.script(keys=self.keys, args=_redis_args(w)))


def _accept_steps(storage: Any, w: _Writes) -> Accepted:
    """Any other huey storage: the same writes one by one (a crash between them can leave a record without a job)."""
    if not storage.put_if_empty(w.delivery, w.record):
        return "duplicate"
    if w.body and not storage.put_if_empty(w.body, w.record):
        storage.delete_data(w.delivery)
        return "replay"
    if w.task is None:
        return "noted"
    if w.head is not None and _newer_head(storage.peek_data(w.head[0]), w.head[2]):
        storage.put_data(w.head[0], w.head_value)
    storage.enqueue(w.task)
    return "queued"


class JobQueue:
    """Accepts deliveries (web side) and runs jobs (worker side) over one huey instance."""

    def __init__(
        self,
        huey: Huey,
        *,
        lease_seconds: float = 30.0,
        job_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
        host: str | None = None,
    ) -> None:
        self.huey = huey
        self.storage = huey.storage
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.host = host or socket.gethostname()
        self._runner: Runner | None = None
        self._aio: _AsyncRedis | None = None
        # huey's hard timeout (SIGALRM in the worker process): TaskTimeout is raised wherever the job is, a jailed
        # run it waits on is killed on the way out (subprocess.run kills its child on any exception)
        timeout = int(job_seconds) if job_seconds else None
        self._task: TaskWrapper = huey.task(name="guardrail_job", timeout=timeout)(self._execute)
        huey.periodic_task(crontab(minute="*"), name="guardrail_recover")(self.recover)
        huey.on_startup(name="guardrail_worker_ready")(self._ready)

    # ---- the web side ----------------------------------------------------------------------------------------

    def accept(self, delivery_id: str, job: Job | None, *, body_sha256: str = "") -> Accepted:
        """Record the delivery and enqueue its job (if any) in one atomic step; "duplicate" when the delivery was
        seen before, "replay" when the same body came before under another delivery id.

        Everything is written before this returns (the webhook answers 202 only after), and all or nothing is
        written: SQLite does it in one transaction, Redis in one Lua script (``EVALSHA``, atomic on the server);
        another huey storage gets the same steps one by one."""
        if _needs_seen_head(job):
            job = job.with_seen_head(self.known_head(job))
        writes = self._writes(delivery_id, job, body_sha256)
        if isinstance(self.storage, SqliteStorage):
            return cast(Accepted, _accept_sqlite(self.storage, writes))
        if isinstance(self.storage, RedisStorage):
            return _accept_redis(self.storage, writes)
        return _accept_steps(self.storage, writes)

    async def accept_async(self, delivery_id: str, job: Job | None, *, body_sha256: str = "") -> Accepted:
        """``accept`` for the web front's event loop, which it never holds waiting on the queue: Redis through an
        asyncio client; SQLite on the loop when the database is free at once (the common case: a few hundred
        microseconds), else in a worker thread that waits for it; anything else in a worker thread."""
        if isinstance(self.storage, RedisStorage):
            if _needs_seen_head(job):
                job = job.with_seen_head(await self._known_head_async(job))
            return await self._async_redis().accept(self._writes(delivery_id, job, body_sha256))
        if isinstance(self.storage, SqliteStorage) and not _needs_seen_head(job):  # that read could wait on the lock
            answer = _accept_sqlite(self.storage, self._writes(delivery_id, job, body_sha256), wait=False)
            if answer is not None:
                return answer
        call = functools.partial(self.accept, delivery_id, job, body_sha256=body_sha256)
        return await anyio.to_thread.run_sync(call)

    def _async_redis(self) -> _AsyncRedis:
        current = self._aio
        if current is None or current.loop is not asyncio.get_running_loop():
            current = self._aio = _AsyncRedis(self.storage)
        return current

    async def astart(self) -> None:
        """At the web front's start, in its loop: load the accept script into Redis and open a few connections, so
        the first deliveries do not pay for them (nothing for SQLite). A Redis that does not answer yet is only
        logged: /healthz says so, and each delivery tries again."""
        if not isinstance(self.storage, RedisStorage):
            return
        client = self._async_redis().client
        try:
            await client.script_load(_ACCEPT_LUA)
            await asyncio.gather(*(client.ping() for _ in range(WARM_CONNECTIONS)))
        except redis.RedisError as exc:
            log.warning("the Redis queue does not answer yet: %s", exc)

    async def aclose(self) -> None:
        """Close the asyncio Redis client ``accept_async`` opened (at the web front's shutdown, in its loop)."""
        current, self._aio = self._aio, None
        if current is not None and current.loop is asyncio.get_running_loop():
            await current.client.aclose()

    async def _known_head_async(self, job: Job) -> str | None:
        raw = await self._async_redis().client.hget(self.storage.result_key, f"head:{job.pr_key}")
        return _head_sha(bytes(raw)) if isinstance(raw, (bytes, memoryview)) else None

    def _writes(self, delivery_id: str, job: Job | None, body_sha256: str) -> _Writes:
        return _Writes(
            delivery=f"delivery:{delivery_id}",
            record=json.dumps({"at": self.clock(), "job": job is not None}).encode(),
            body=f"body:{body_sha256}" if body_sha256 else "",
            head=(f"head:{job.pr_key}", job.head_sha, job.head_at or "")
            if job and job.event == "pull_request" and job.head_sha
            else None,
            task=self.huey.serialize_task(self._task.s(job.as_dict())) if job is not None else None,
        )

    def describe(self) -> str:
        """Where the queue is, for a start-up log line: a SQLite file's path, or Redis's host, port and database
        (never its password)."""
        if isinstance(self.storage, RedisStorage):
            kwargs = self.storage.conn.connection_pool.connection_kwargs
            where = kwargs.get("path") or f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
            return f"Redis at {where}, database {kwargs.get('db', 0)}"
        if isinstance(self.storage, SqliteStorage):
            return f"SQLite file {self.storage.filename}"
        return type(self.storage).__name__

    def enqueue(self, job: Job) -> None:
        self.huey.enqueue(self._task.s(job.as_dict()))

    def known_head(self, job: Job) -> str | None:
        raw = self.storage.peek_data(f"head:{job.pr_key}")
        return _head_sha(bytes(raw)) if isinstance(raw, (bytes, memoryview)) else None

    def seen(self, delivery_id: str) -> bool:
        return bool(self.storage.has_data_for_key(f"delivery:{delivery_id}"))

    def depth(self) -> int:
        return int(self.huey.pending_count())

    def pending_jobs(self) -> list[Job]:
        """The jobs waiting in the queue (for tests and the benchmark)."""
        jobs = []
        for task in self.huey.pending():
            args = task.args
            if args and isinstance(args[0], dict):
                jobs.append(Job.from_dict(args[0]))
        return jobs

    # ---- the worker side -------------------------------------------------------------------------------------

    def set_runner(self, runner: Runner) -> None:
        self._runner = runner

    def ensure_current(self, job: Job) -> None:
        """Raise Superseded when a push was accepted for the job's PR after the job's delivery."""
        head = self.known_head(job)
        expected = job.seen_head or job.head_sha
        if head is not None and expected is not None and head != expected:
            raise Superseded(f"{job.pr_key} moved on to {head[:12]} after this job's delivery (at {expected[:12]})")

    def _execute(self, data: dict[str, Any]) -> None:
        job = Job.from_dict(data)
        if self.storage.has_data_for_key(f"done:{job.delivery_id}"):
            log.info("job already done", extra={"delivery_id": job.delivery_id})
            return
        if not self.storage.put_if_empty(f"claim:{job.key}", f"{self.host}:{os.getpid()}".encode()):
            log.warning("job taken by another worker", extra={"delivery_id": job.delivery_id})
            return
        if self._runner is None:
            raise RuntimeError("this process only enqueues; start `guardrail worker` to run jobs")
        stop = threading.Event()
        self._renew(job)
        beat = threading.Thread(target=self._heartbeat, args=(job, stop), name="guardrail-lease", daemon=True)
        beat.start()
        try:
            self._runner(job)
        finally:
            stop.set()
            beat.join()
            self.storage.put_data(f"done:{job.delivery_id}", json.dumps({"at": self.clock()}).encode())
            self.storage.delete_data(f"running:{job.key}")

    def _renew(self, job: Job) -> None:
        pid = os.getpid()
        lease = Lease(job, self.host, pid, process_started(pid), self.clock() + self.lease_seconds)
        self.storage.put_data(f"running:{job.key}", lease.dump())

    def _heartbeat(self, job: Job, stop: threading.Event) -> None:
        while not stop.wait(self.lease_seconds / 3):
            self._renew(job)

    def _lost(self, lease: Lease) -> bool:
        if lease.until < self.clock():
            return True
        return lease.host == self.host and process_started(lease.pid) != lease.started

    def _ready(self) -> None:
        log.info("worker process %d ready on %s", os.getpid(), self.host)
        self.recover()

    def recover(self) -> list[Job]:
        """Re-enqueue the jobs whose worker died; forget delivery records older than a week. Returns the jobs."""
        recovered = []
        now = self.clock()
        for key, raw in self.storage.result_items().items():
            if key.startswith("running:"):
                lease = Lease.load(raw)
                if not self._lost(lease):
                    continue
                again = lease.job.retried()
                if self.storage.put_if_empty(f"recovered:{lease.job.key}", b"1"):
                    self.enqueue(again)
                    recovered.append(again)
                    log.warning(
                        "re-enqueued a job whose worker died (attempt %d)",
                        again.attempt,
                        extra={"delivery_id": again.delivery_id},
                    )
                self.storage.delete_data(key)
            elif key.startswith(("delivery:", "body:")) and json.loads(bytes(raw)).get("at", now) < now - DELIVERY_TTL:
                self.storage.delete_data(key)
        return recovered
