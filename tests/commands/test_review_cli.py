"""`guardrail review` and `guardrail log` end to end: the demo repository, scripted model servers on 127.0.0.1
(Ollama for the local model, Anthropic for the cloud one), an admin policy file, the real gates (ruff, pytest)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from tests.demo_pr import BAD_PATCH, GOOD_PATCH, REVIEW_WITH_FIX, admin_policy, build_demo, commit_file
from tests.fakes.model_servers import FakeAnthropic, FakeOllama, Reply

Servers = tuple[FakeOllama, FakeAnthropic]
Capsys = pytest.CaptureFixture[str]
TESTS_CONFIG = 'gates:\n  tests: {command: "python -m pytest -q", timeout: 120}\n'


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return build_demo(tmp_path / "repo")


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[FakeOllama, FakeAnthropic]]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setenv("GUARDRAIL_CACHE_DIR", str(tmp_path / "baselines"))  # not the user's cache
    monkeypatch.delenv("GUARDRAIL_ADMIN_POLICY", raising=False)
    with FakeOllama() as local, FakeAnthropic() as cloud:
        yield local, cloud


@pytest.fixture
def policy(tmp_path: Path, servers: tuple[FakeOllama, FakeAnthropic]) -> Path:
    local, cloud = servers
    return admin_policy(tmp_path / "admin.yml", local.url, cloud.url)


def _review(
    capsys: pytest.CaptureFixture[str], demo: Path, policy: Path, db: Path, *extra: str, json_out: bool = True
) -> tuple[int, Any, str]:
    argv = ["review", "--repo", str(demo), "--base", "main", "--head", "pr", "--admin-policy", str(policy)]
    argv += ["--audit-db", str(db), *(["--json"] if json_out else []), *extra]
    code = main(argv)
    captured = capsys.readouterr()
    data = json.loads(captured.out) if json_out and code == 0 else captured.out
    return code, data, captured.err


def _log(capsys: pytest.CaptureFixture[str], db: Path) -> list[dict[str, Any]]:
    assert main(["log", "--json", "--audit-db", str(db)]) == 0
    runs: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return runs


@pytest.mark.slow
def test_a_local_patch_that_fails_the_tests_falls_back_to_the_cloud_patch_that_passes(
    capsys: pytest.CaptureFixture[str],
    demo: Path,
    policy: Path,
    servers: tuple[FakeOllama, FakeAnthropic],
    tmp_path: Path,
) -> None:
    local, cloud = servers
    local.script(Reply(BAD_PATCH))
    cloud.script(Reply(GOOD_PATCH))
    db = tmp_path / "audit.sqlite3"

    code, out, _ = _review(capsys, demo, policy, db, "--purpose", "patch", "--repo-name", "acme/app")

    assert code == 0
    assert (out["posted"], out["winner"], out["purpose"], out["repo"]) == (True, "coder-cloud", "patch", "acme/app")
    lost, won = out["attempts"]
    assert (lost["model"], lost["location"], lost["status"]) == ("coder-local", "local", "rejected")
    assert lost["reason"] == "gate tests failed: tests/test_mathkit.py::test_mean"
    assert {g["name"]: g["status"] for g in lost["gates"]}["tests"] == "fail"
    assert (won["model"], won["location"], won["status"], won["reason"]) == ("coder-cloud", "cloud", "accepted", None)
    assert won["gates"] and all(g["status"] in ("pass", "skipped") for g in won["gates"])
    assert "range(1, n + 1)" in out["suggestions"][0]["patch"]
    assert len(local.chat_requests) == 1 and len(cloud.chat_requests) == 1

    [run] = _log(capsys, db)
    assert (run["repo"], run["posted"], run["winner"], run["cloud_allowed"]) == ("acme/app", True, "coder-cloud", True)
    assert [(a["model"], a["status"], a["verdict"]) for a in run["attempts"]] == [
        ("coder-local", "rejected", "reject"),
        ("coder-cloud", "accepted", "accept"),
    ]
    assert run["attempts"][0]["reason"] == lost["reason"]
    assert all(len(a["prompt_sha256"]) == 64 and len(a["reply_sha256"]) == 64 for a in run["attempts"])


@pytest.mark.slow
def test_a_local_only_repository_posts_nothing_and_the_cloud_receives_no_request(
    capsys: pytest.CaptureFixture[str],
    demo: Path,
    policy: Path,
    servers: tuple[FakeOllama, FakeAnthropic],
    tmp_path: Path,
) -> None:
    local, cloud = servers
    local.script(Reply(BAD_PATCH))
    cloud.script(Reply(GOOD_PATCH))
    db = tmp_path / "audit.sqlite3"

    code, out, _ = _review(capsys, demo, policy, db, "--purpose", "patch", "--repo-name", "acme/secret")

    assert code == 0
    assert (out["posted"], out["winner"], out["suggestions"]) == (False, None, [])
    assert [(a["model"], a["status"]) for a in out["attempts"]] == [("coder-local", "rejected")]
    assert "cloud fallback not allowed: local-only repository" in out["notes"]
    assert cloud.requests == []

    [run] = _log(capsys, db)
    assert (run["local_only"], run["cloud_allowed"], run["posted"]) == (True, False, False)
    assert {e["model"]: e["reason"] for e in run["excluded"]}["coder-cloud"].startswith("local-only repository")
    assert [a["location"] for a in run["attempts"]] == ["local"]


@pytest.mark.slow
def test_cloud_fallback_off_at_the_base_holds_even_when_the_pr_turns_it_on(
    capsys: pytest.CaptureFixture[str],
    demo: Path,
    policy: Path,
    servers: tuple[FakeOllama, FakeAnthropic],
    tmp_path: Path,
) -> None:
    local, cloud = servers
    local.script(Reply(BAD_PATCH))
    cloud.script(Reply(GOOD_PATCH))
    commit_file(demo, "main", ".github/guardrail.yml", TESTS_CONFIG + "cloud_fallback: false\n")
    commit_file(demo, "pr", ".github/guardrail.yml", TESTS_CONFIG + "cloud_fallback: true\n")
    db = tmp_path / "audit.sqlite3"

    code, out, _ = _review(capsys, demo, policy, db, "--purpose", "patch", "--repo-name", "acme/app")

    assert code == 0
    assert (out["posted"], out["winner"]) == (False, None)
    assert [a["model"] for a in out["attempts"]] == ["coder-local"]
    assert "cloud fallback not allowed: cloud fallback off in main:.github/guardrail.yml" in out["notes"]
    assert cloud.requests == []
    [run] = _log(capsys, db)
    assert (run["local_only"], run["cloud_allowed"]) == (False, False)
    assert [a["location"] for a in run["attempts"]] == ["local"]


def test_a_repo_config_naming_a_model_the_admin_does_not_allow_exits_2_and_asks_no_model(
    capsys: pytest.CaptureFixture[str],
    demo: Path,
    policy: Path,
    servers: tuple[FakeOllama, FakeAnthropic],
    tmp_path: Path,
) -> None:
    local, cloud = servers
    commit_file(demo, "main", ".github/guardrail.yml", "purposes:\n  review:\n    models: [coder-local, gpt-huge]\n")
    db = tmp_path / "audit.sqlite3"

    code, _, err = _review(capsys, demo, policy, db, "--repo-name", "acme/app")

    assert code == 2
    assert "main:.github/guardrail.yml:3" in err and "gpt-huge" in err
    assert local.requests == [] and cloud.requests == []
    assert not db.exists() or _log(capsys, db) == []


def test_an_unknown_revision_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
    demo: Path,
    policy: Path,
    servers: tuple[FakeOllama, FakeAnthropic],
    tmp_path: Path,
) -> None:
    local, _ = servers
    argv = ["review", "--repo", str(demo), "--base", "main", "--head", "no-such-branch", "--admin-policy", str(policy)]
    assert main([*argv, "--audit-db", str(tmp_path / "a.db")]) == 2
    assert "unknown revision 'no-such-branch'" in capsys.readouterr().err
    assert local.requests == []


@pytest.mark.slow
def test_a_review_whose_suggestion_passes_the_gates_prints_it_as_a_committable_suggestion(
    capsys: pytest.CaptureFixture[str],
    demo: Path,
    policy: Path,
    servers: tuple[FakeOllama, FakeAnthropic],
    tmp_path: Path,
) -> None:
    local, cloud = servers
    local.script(Reply(REVIEW_WITH_FIX))
    db = tmp_path / "audit.sqlite3"

    code, text, _ = _review(capsys, demo, policy, db, "--repo-name", "acme/app", json_out=False)

    assert code == 0
    assert "verified suggestion" in text
    assert "**`mathkit/core.py` line 9**" in text
    assert "```suggestion\n    for i in range(1, n + 1):\n```" in text
    assert "Written by `coder-local` (ollama, local)" in text and "Gates passed:" in text and "tests" in text
    assert cloud.requests == []
    [run] = _log(capsys, db)
    assert (run["purpose"], run["winner"]) == ("review", "coder-local")


@pytest.mark.slow
def test_review_json_reports_the_gated_patch_and_every_comment_as_it_would_be_posted(
    capsys: pytest.CaptureFixture[str],
    demo: Path,
    policy: Path,
    servers: tuple[FakeOllama, FakeAnthropic],
    tmp_path: Path,
) -> None:
    local, _ = servers
    local.script(Reply(REVIEW_WITH_FIX))
    code, out, _ = _review(capsys, demo, policy, tmp_path / "audit.sqlite3", "--repo-name", "acme/app")
    assert code == 0 and out["posted"]
    assert "-    for i in range(1, n):\n+    for i in range(1, n + 1):\n" in out["patch"]
    assert out["patch"].startswith("diff --git a/mathkit/core.py b/mathkit/core.py\nindex ")  # git's own diff
    [comment] = out["comments"]
    assert {k: comment[k] for k in ("path", "side", "start_line", "line")} == {
        "path": "mathkit/core.py",
        "side": "RIGHT",
        "start_line": None,
        "line": 9,
    }
    assert "```suggestion\n    for i in range(1, n + 1):\n```" in comment["body"]
    assert comment["body"].startswith("<!-- guardrail:fp=") and "written by `coder-local`" in comment["body"]
    assert out["suggestions"][0]["original"] == "    for i in range(1, n):\n"
    assert out["leftovers"] == []
