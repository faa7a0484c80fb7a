"""The audit log: what a run and its attempts leave behind, and what `guardrail log` reads back."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.audit import SCHEMA_VERSION, AuditLog, default_path
from bot.cli import main
from bot.errors import ConfigError
from bot.types import (
    Attempt,
    Exclusion,
    Finding,
    GateResult,
    ModelSpec,
    Outcome,
    PullRequest,
    Resolution,
    Suggestion,
)

LOCAL = ModelSpec(name="coder-local", backend="ollama", model="qwen", location="local", url="http://127.0.0.1:1")
CLOUD = ModelSpec(name="coder-cloud", backend="anthropic", model="claude", location="cloud", url="http://127.0.0.1:2")
PR = PullRequest(
    repo=Path("/src/acme"), base="main", head="pr", repo_name="acme/app", base_sha="b" * 40, head_sha="h" * 40
)
FAILED_TESTS = GateResult(
    "tests", "fail", "1 new failure", (Finding("tests/test_x.py", 3, "tests/test_x.py::test_y", "assert 1 == 2"),), 1.5
)


def _fallback_outcome() -> tuple[Outcome, Resolution]:
    resolution = Resolution("patch", "acme/app", (LOCAL, CLOUD), (Exclusion("big", "not allowed"),), True, False)
    local = Attempt(
        "coder-local", "ollama", "local", "rejected", "gate tests failed: tests/test_x.py::test_y",
        gates=(FAILED_TESTS,), seconds=2.0, tokens=120, prompt_sha256="p1", reply_sha256="r1",
    )  # fmt: skip
    cloud = Attempt(
        "coder-cloud", "anthropic", "cloud", "accepted", None,
        gates=(GateResult("tests", "pass", "ok", (), 1.0),), seconds=3.0, tokens=300,
        prompt_sha256="p2", reply_sha256="r2", suggestion=Suggestion("patch", "diff"),
    )  # fmt: skip
    outcome = Outcome(PR, "patch", True, "coder-cloud", (local, cloud), Suggestion("patch", "diff"))
    return outcome, resolution


def test_record_keeps_every_attempt_with_its_fallback_reason_and_gates(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "state" / "audit.sqlite3")
    outcome, resolution = _fallback_outcome()
    run_id = log.record(outcome, resolution, started_at=datetime(2026, 1, 1, tzinfo=UTC))

    [run] = log.runs(10)
    assert run.id == run_id
    assert (run.repo, run.head, run.purpose, run.posted, run.winner) == (
        "acme/app",
        "h" * 40,
        "patch",
        True,
        "coder-cloud",
    )
    assert run.started_at == "2026-01-01T00:00:00+00:00"
    assert [c["model"] for c in run.candidates] == ["coder-local", "coder-cloud"]
    assert run.excluded == [{"model": "big", "reason": "not allowed"}]
    local, cloud = log.attempts(run_id)
    assert (local.model, local.status, local.verdict) == ("coder-local", "rejected", "reject")
    assert local.reason == "gate tests failed: tests/test_x.py::test_y"
    assert local.gates[0]["findings"][0]["rule"] == "tests/test_x.py::test_y"
    assert (local.prompt_sha256, local.reply_sha256, local.tokens, local.seconds) == ("p1", "r1", 120, 2.0)
    assert (cloud.location, cloud.status, cloud.verdict, cloud.reason) == ("cloud", "accepted", "accept", None)


def test_a_run_where_every_model_errored_is_recorded_with_no_verdict(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite3")
    resolution = Resolution("review", None, (LOCAL,), (Exclusion("coder-cloud", "local-only repository"),), False, True)
    error = Attempt("coder-local", "ollama", "local", "error", "error: ModelTimeout: no answer in 1 s")
    outcome = Outcome(PR, "review", False, None, (error,), notes=("cloud fallback not allowed: local-only repository",))
    run_id = log.record(outcome, resolution, started_at=datetime.now(UTC))

    [run] = log.runs(1)
    assert (run.posted, run.winner, run.local_only, run.cloud_allowed) == (False, None, True, False)
    assert run.excluded == [{"model": "coder-cloud", "reason": "local-only repository"}]
    assert run.notes == ["cloud fallback not allowed: local-only repository"]
    [attempt] = log.attempts(run_id)
    assert (attempt.status, attempt.verdict, attempt.reason) == ("error", None, "error: ModelTimeout: no answer in 1 s")


def test_runs_are_newest_first_and_limited(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite3")
    outcome, resolution = _fallback_outcome()
    ids = [log.record(outcome, resolution, started_at=datetime.now(UTC)) for _ in range(3)]
    assert [r.id for r in log.runs(2)] == [ids[2], ids[1]]


def test_a_newer_schema_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    AuditLog(path).runs(1)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    conn.close()
    with pytest.raises(ConfigError, match="newer than this Guardrail"):
        AuditLog(path).runs(1)


def test_default_path_comes_from_the_environment_or_the_state_directory(tmp_path: Path) -> None:
    assert default_path({"GUARDRAIL_AUDIT_DB": str(tmp_path / "x.db")}) == tmp_path / "x.db"
    assert default_path({}).name == "audit.sqlite3"
    assert "guardrail" in str(default_path({}))


def test_guardrail_log_prints_runs_with_attempts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "audit.sqlite3"
    outcome, resolution = _fallback_outcome()
    AuditLog(path).record(outcome, resolution, started_at=datetime.now(UTC))

    assert main(["log", "--json", "--audit-db", str(path)]) == 0
    [run] = json.loads(capsys.readouterr().out)
    assert run["winner"] == "coder-cloud"
    assert [(a["model"], a["status"]) for a in run["attempts"]] == [
        ("coder-local", "rejected"),
        ("coder-cloud", "accepted"),
    ]

    assert main(["log", "--audit-db", str(path)]) == 0
    text = capsys.readouterr().out
    assert "posted by coder-cloud" in text
    assert "coder-local (ollama, local) rejected: gate tests failed: tests/test_x.py::test_y" in text


def test_guardrail_log_without_a_log_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["log", "--audit-db", str(tmp_path / "missing.sqlite3")]) == 2
    assert "no audit log here yet" in capsys.readouterr().err
