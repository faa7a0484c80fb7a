"""The audit log: every run and every attempt, in SQLite, as a record of decisions.

A run row says which repository, head and purpose were reviewed, which models the policy offered (``candidates``)
and which it left out and why (``excluded``), whether the repository was local-only and whether cloud was allowed.
An attempt row says what one model was asked (sha256 of the prompt), what it answered (the raw replies, and the
sha256 of the last), how long it took, what the gates concluded and why it lost. The replies are stored as the
model sent them (untrusted text: ``guardrail log --replies`` prints them, never runs them). So "a local-only
repository's runs never reached a cloud model" is a query: its run rows say ``local_only = 1`` and no attempt row
of theirs has ``location = 'cloud'``.

The log is written even when nothing is posted and when every model errors. Where it lives: ``--audit-db``, else
``GUARDRAIL_AUDIT_DB``, else ``user_state_dir("guardrail")/audit.sqlite3``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from platformdirs import user_state_dir

from bot.errors import ConfigError
from bot.types import Attempt, Finding, GateResult, Outcome, Resolution

SCHEMA_VERSION = 2  # 2: attempts.replies (the model's raw replies)
ENV_VAR = "GUARDRAIL_AUDIT_DB"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    repo TEXT,
    repo_path TEXT NOT NULL,
    pr_number INTEGER,
    base TEXT NOT NULL,
    head TEXT NOT NULL,
    purpose TEXT NOT NULL,
    posted INTEGER NOT NULL,
    winner TEXT,
    local_only INTEGER NOT NULL,
    cloud_allowed INTEGER NOT NULL,
    candidates TEXT NOT NULL,
    excluded TEXT NOT NULL,
    notes TEXT NOT NULL,
    dropped TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    model TEXT NOT NULL,
    backend TEXT NOT NULL,
    location TEXT NOT NULL,
    template TEXT NOT NULL,
    status TEXT NOT NULL,
    verdict TEXT,
    reason TEXT,
    prompt_sha256 TEXT NOT NULL,
    reply_sha256 TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    seconds REAL NOT NULL,
    gates TEXT NOT NULL,
    replies TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS attempts_run ON attempts(run_id);
"""


def default_path(env: Mapping[str, str]) -> Path:
    """``GUARDRAIL_AUDIT_DB`` if set, else the user's state directory (e.g. ~/.local/state/guardrail)."""
    if env.get(ENV_VAR):
        return Path(env[ENV_VAR])
    return Path(user_state_dir("guardrail")) / "audit.sqlite3"


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt row as stored."""

    id: int
    run_id: int
    seq: int
    model: str
    backend: str
    location: str
    template: str
    status: str
    verdict: str | None  # "accept" / "reject" when the gates ran, else None
    reason: str | None  # why it lost (the fallback reason), None for the winner
    prompt_sha256: str
    reply_sha256: str
    tokens: int
    seconds: float
    gates: list[dict[str, Any]]
    replies: list[str]  # the model's raw replies, in order (the first ask, then the re-ask if any)


@dataclass(frozen=True)
class RunRecord:
    """One run row as stored."""

    id: int
    started_at: str
    finished_at: str
    repo: str | None
    repo_path: str
    pr_number: int | None
    base: str
    head: str
    purpose: str
    posted: bool
    winner: str | None
    local_only: bool
    cloud_allowed: bool
    candidates: list[dict[str, str]]
    excluded: list[dict[str, str]]
    notes: list[str]
    dropped: list[str]


def gate_to_dict(gate: GateResult) -> dict[str, Any]:
    """A gate result in the shape of ``guardrail gate --json``."""
    out: dict[str, Any] = {
        "name": gate.name,
        "status": gate.status,
        "summary": gate.summary,
        "findings": [_finding(f) for f in gate.findings],
        "seconds": round(gate.seconds, 3),
    }
    if gate.fixed or gate.remaining:  # the evidence: what the patch fixed, what the head still has
        out["fixed"] = [_finding(f) for f in gate.fixed]
        out["remaining"] = [_finding(f) for f in gate.remaining]
    return out


def _finding(finding: Finding) -> dict[str, Any]:
    return {"path": finding.path, "line": finding.line, "rule": finding.rule, "message": finding.message}


def attempt_verdict(attempt: Attempt) -> str | None:
    """ "accept" or "reject" when the gates judged a patch; None when they never ran or had nothing to check."""
    ran = [g for g in attempt.gates if g.status != "skipped"]
    if not ran:
        return None
    return "accept" if attempt.status == "accepted" else "reject"


class AuditLog:
    """The SQLite audit log at ``path`` (created with its parent directory on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"cannot open the audit log ({exc}); pass --audit-db or set {ENV_VAR} to a writable file",
                where=str(self.path),
            ) from exc
        with closing(conn):
            conn.row_factory = sqlite3.Row
            try:
                conn.execute("PRAGMA foreign_keys = ON")
                self._migrate(conn)
            except sqlite3.DatabaseError as exc:
                raise ConfigError(
                    f"not a Guardrail audit log ({exc}); pass --audit-db with another file, or set {ENV_VAR}",
                    where=str(self.path),
                ) from exc
            with conn:  # one transaction: a run and its attempts are written together or not at all
                yield conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "schema_version" not in tables:  # someone else's database: never write into it
            raise ConfigError(
                f"not a Guardrail audit log (an SQLite database with other tables: {', '.join(sorted(tables))}); "
                f"pass --audit-db with another file, or set {ENV_VAR}",
                where=str(self.path),
            )
        conn.executescript(_SCHEMA)
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        version = row[0]
        if version is None:
            with conn:
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        elif version == 1:  # version 1 had no replies column
            with conn:
                conn.execute("ALTER TABLE attempts ADD COLUMN replies TEXT NOT NULL DEFAULT '[]'")
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        elif version > SCHEMA_VERSION:
            raise ConfigError(
                f"the audit log has schema version {version}, newer than this Guardrail ({SCHEMA_VERSION});"
                " upgrade Guardrail or use another --audit-db",
                where=str(self.path),
            )

    def record(self, outcome: Outcome, resolution: Resolution, *, started_at: datetime) -> int:
        """Write one run and its attempts; returns the run's id."""
        pr = outcome.pr
        candidates = [{"model": c.name, "backend": c.backend, "location": c.location} for c in resolution.candidates]
        excluded = [{"model": e.model, "reason": e.reason} for e in resolution.excluded]
        with self._connect() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (started_at, finished_at, repo, repo_path, pr_number, base, head, purpose, posted,"
                " winner, local_only, cloud_allowed, candidates, excluded, notes, dropped)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    started_at.astimezone(UTC).isoformat(timespec="seconds"),
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    pr.repo_name,
                    str(pr.repo),
                    pr.number,
                    pr.base_sha or pr.base,
                    pr.head_sha or pr.head,
                    outcome.purpose,
                    int(outcome.posted),
                    outcome.winner,
                    int(resolution.local_only),
                    int(resolution.cloud_allowed),
                    json.dumps(candidates),
                    json.dumps(excluded),
                    json.dumps(list(outcome.notes)),
                    json.dumps(list(outcome.dropped)),
                ),
            )
            run_id = cursor.lastrowid
            assert run_id is not None  # an INSERT into a rowid table always sets it
            for seq, attempt in enumerate(outcome.attempts):
                conn.execute(
                    "INSERT INTO attempts (run_id, seq, model, backend, location, template, status, verdict, reason,"
                    " prompt_sha256, reply_sha256, tokens, seconds, gates, replies)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        seq,
                        attempt.model,
                        attempt.backend,
                        attempt.location,
                        attempt.template,
                        attempt.status,
                        attempt_verdict(attempt),
                        attempt.reason,
                        attempt.prompt_sha256,
                        attempt.reply_sha256,
                        attempt.tokens,
                        round(attempt.seconds, 3),
                        json.dumps([gate_to_dict(g) for g in attempt.gates]),
                        json.dumps(list(attempt.replies)),
                    ),
                )
        return run_id

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The latest runs, newest first."""
        with self._connect() as conn:
            rows = conn.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [_run_record(row) for row in rows]

    def attempts(self, run_id: int) -> list[AttemptRecord]:
        """The attempts of one run, in the order they were made."""
        with self._connect() as conn:
            rows = conn.execute("SELECT * FROM attempts WHERE run_id = ? ORDER BY seq", (run_id,)).fetchall()
        return [_attempt_record(row) for row in rows]


def _run_record(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        id=row["id"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        repo=row["repo"],
        repo_path=row["repo_path"],
        pr_number=row["pr_number"],
        base=row["base"],
        head=row["head"],
        purpose=row["purpose"],
        posted=bool(row["posted"]),
        winner=row["winner"],
        local_only=bool(row["local_only"]),
        cloud_allowed=bool(row["cloud_allowed"]),
        candidates=json.loads(row["candidates"]),
        excluded=json.loads(row["excluded"]),
        notes=json.loads(row["notes"]),
        dropped=json.loads(row["dropped"]),
    )


def _attempt_record(row: sqlite3.Row) -> AttemptRecord:
    return AttemptRecord(
        id=row["id"],
        run_id=row["run_id"],
        seq=row["seq"],
        model=row["model"],
        backend=row["backend"],
        location=row["location"],
        template=row["template"],
        status=row["status"],
        verdict=row["verdict"],
        reason=row["reason"],
        prompt_sha256=row["prompt_sha256"],
        reply_sha256=row["reply_sha256"],
        tokens=row["tokens"],
        seconds=row["seconds"],
        gates=json.loads(row["gates"]),
        replies=json.loads(row["replies"]),
    )
