"""`guardrail serve` / `guardrail worker` settings: what a misconfigured start says (one line, exit 2), and the App's
installation tokens (minted from the JWT by the fake GitHub, replaced before their hour ends)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.github.app_auth import REFRESH_MARGIN, AppCredentials, InstallationTokens
from bot.server.deliveries import classify
from bot.server.settings import settings_from
from tests.fakes.github_server import FakeGitHub
from tests.github.action_world import payload
from tests.server.server_world import ROOT, write_app_key


def guardrail(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GUARDRAIL_")} | env
    argv = [sys.executable, "-m", "bot.cli", *args]
    return subprocess.run(argv, env=clean, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_serve_refuses_to_start_without_the_webhook_secret() -> None:
    done = guardrail("serve", "--port", "0", env={})
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "GUARDRAIL_WEBHOOK_SECRET (--webhook-secret)" in line and "refuses to start" in line


def test_serve_on_a_port_in_use_is_one_line_naming_the_flags(tmp_path: Path) -> None:
    # uvicorn bound the port itself: it logged the error as a JSON line among its start-up lines and exited 3
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"GUARDRAIL_WEBHOOK_SECRET": "s" * 40, "GUARDRAIL_QUEUE": str(tmp_path / "q.sqlite3")}
        done = guardrail("serve", "--port", str(port), "--workers", "0", env=env)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"guardrail: configuration error: --host/--port: cannot listen on 127.0.0.1:{port} (Address already in use)"
    )


def test_a_worker_without_the_apps_key_says_which_variable(tmp_path: Path) -> None:
    env = {"GUARDRAIL_APP_ID": "1", "GUARDRAIL_QUEUE": str(tmp_path / "q.sqlite3")}
    done = guardrail("worker", env=env | {"GUARDRAIL_APP_PRIVATE_KEY": str(tmp_path / "missing.pem")})
    assert done.returncode == 2 and "GUARDRAIL_APP_PRIVATE_KEY (--app-private-key)" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("env", "where"),
    [
        ({"GUARDRAIL_QUEUE": "postgres://db/q"}, "GUARDRAIL_QUEUE (--queue)"),
        ({"GUARDRAIL_WORKERS": "two"}, "GUARDRAIL_WORKERS (--workers)"),
        ({"GUARDRAIL_WORKERS": "-1"}, "GUARDRAIL_WORKERS (--workers)"),
        ({"GUARDRAIL_LEASE_SECONDS": "1"}, "GUARDRAIL_LEASE_SECONDS (--lease-seconds)"),
        ({"GUARDRAIL_GIT_URL": "https://git.example/repo.git"}, "GUARDRAIL_GIT_URL (--git-url)"),
        ({"GITHUB_API_URL": "ftp://github.example"}, "GITHUB_API_URL (--github-api-url)"),
        ({"GITHUB_API_URL": "api.github.com"}, "GITHUB_API_URL (--github-api-url)"),
    ],
)
def test_bad_settings_name_the_variable_and_the_flag(env: dict[str, str], where: str) -> None:
    with pytest.raises(ConfigError) as raised:
        settings_from({"GUARDRAIL_WEBHOOK_SECRET": "s", **env}, {}, need_secret=True)
    assert str(raised.value).startswith(where)


def test_the_workers_help_does_not_offer_the_webhook_secret_it_never_uses() -> None:
    worker, serve = (guardrail(command, "--help", env={}).stdout for command in ("worker", "serve"))
    assert "--webhook-secret" not in worker and "--webhook-secret SECRET" in serve
    assert "VALUE" not in worker + serve  # each flag says what it takes: N, FILE, URL, SECONDS, ...
    assert "--workers N" in worker and "--queue FILE|URL" in serve


def test_a_flag_wins_over_the_variable(tmp_path: Path) -> None:
    flags = {"GUARDRAIL_QUEUE": str(tmp_path / "flag.sqlite3"), "GUARDRAIL_WORKERS": "3"}
    settings = settings_from(
        {"GUARDRAIL_WEBHOOK_SECRET": "s", "GUARDRAIL_QUEUE": "env.sqlite3"}, flags, need_secret=True
    )
    assert (settings.queue, settings.workers) == (str(tmp_path / "flag.sqlite3"), 3)


def test_installation_tokens_are_reused_then_replaced_before_their_hour_ends(tmp_path: Path) -> None:
    now = [0.0]
    with FakeGitHub() as fake:
        fake.add_repo("acme/widgets")
        fake.add_installation(7, "acme/widgets", app_id=99)
        key = write_app_key(tmp_path / "app.pem").read_text()
        tokens = InstallationTokens(AppCredentials("99", key), base_url=fake.base_url, clock=lambda: now[0])
        # the fake's tokens expire an hour from the real clock: the injected clock moves relative to that
        now[0] = time.time()
        first = tokens.get(7)
        assert tokens.get(7) == first  # reused while fresh
        now[0] = time.time() + 3600 - REFRESH_MARGIN + 1  # inside the margin before expiry
        second = tokens.get(7)
        assert second != first and second.startswith("ghs_fake7")
        minted = fake.requests_to("POST", "/app/installations/7/access_tokens")
        assert len(minted) == 2 and all(r.headers["authorization"].startswith("Bearer ") for r in minted)


def test_check_run_reruns_of_other_apps_and_drafts_are_ignored() -> None:
    rerun = payload("check_run/rerequested.json")
    rerun["check_run"]["name"] = "guardrail/patch"
    rerun["check_run"]["pull_requests"] = [{"number": 3}]
    assert classify("check_run", rerun, "d", app_id="2").__class__.__name__ == "Job"
    other = classify("check_run", rerun, "d", app_id="77")
    assert "App 2, not this one" in getattr(other, "reason", "")
    draft = payload("pull_request/opened.json")
    draft["pull_request"]["draft"] = True
    assert "draft" in getattr(classify("pull_request", draft, "d"), "reason", "")
    no_installation = payload("pull_request/ready_for_review.json")
    assert "not from a GitHub App" in getattr(classify("pull_request", no_installation, "d"), "reason", "")


@pytest.mark.slow
def test_the_server_benchmark_runs_and_finds_every_delivery_in_the_queue() -> None:
    argv = [sys.executable, "-m", "benchmarks.server", "--senders", "4", "--rate", "40", "--seconds", "1", "--json"]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    report = json.loads(done.stdout)
    assert report["missing"] == 0
    assert {(r["queue"], r["phase"]) for r in report["results"]} == {
        ("sqlite", "paced"),
        ("sqlite", "flood"),
        ("redis", "paced"),
        ("redis", "flood"),
    }
    assert all(r["accepted"] > 0 and not r["other_statuses"] for r in report["results"])
