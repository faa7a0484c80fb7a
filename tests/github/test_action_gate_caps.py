"""The admin's gate maxima on the path the Action and the App's worker share (``run_on_checkout``): a repository
config at the base asking for a billion-second timeout and no process limit runs capped, and the PR's summary
comment, the step summary and the audit log say so once. The real gates run; GitHub is the fake over real HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bot.cli import main
from tests.demo_pr import GOOD_PATCH, REVIEW_WITH_FIX, build_demo
from tests.fakes.github_server import FakeGitHub
from tests.fakes.model_servers import FakeOllama, Reply
from tests.github.action_world import NUMBER, REPO, World, admin_policy_yaml, git, read_outputs
from tests.github.test_action_e2e import run_action
from tests.server.app_world import AppWorld
from tests.server.server_world import Process, free_port, wait_until

GREEDY = 'gates:\n  tests: {command: "python -m pytest -q", timeout: 1e9}\n  limits: {processes: null}\n'
CAPS = "gates:\n  tests: {timeout: 300}\n  limits: {processes: 256}\n"
TIMEOUT_NOTE = "gates.tests.timeout: the repository asked for 1000000000 s; capped at 300 s by the admin policy"
PROCESSES_NOTE = "gates.limits.processes: the repository asked for no limit; capped at 256 by the admin policy"


@pytest.fixture
def world(tmp_path: Path, fake: FakeGitHub, ollama: FakeOllama) -> World:
    """The demo pull request, rebased onto a base whose ``.github/guardrail.yml`` asks for too much."""
    repo = build_demo(tmp_path / "repo")
    (repo / ".github/guardrail.yml").write_text(GREEDY)
    git(repo, "commit", "-qam", "ask for everything")
    git(repo, "rebase", "-q", "main", "pr")
    git(repo, "checkout", "-q", "main")
    base, head = git(repo, "rev-parse", "main"), git(repo, "rev-parse", "pr")
    built = World(tmp_path, fake, ollama, repo, base, head)
    fake.add_pull(REPO, NUMBER, base_sha=base, head_sha=head, diff_text=built.diff())
    return built


@pytest.mark.slow
def test_a_repository_asking_past_the_admins_maxima_runs_capped_and_the_summary_says_so(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    world.ollama.default = Reply(GOOD_PATCH)
    world.pull_request_event("opened")
    env = world.env(GUARDRAIL_PURPOSE="patch", GUARDRAIL_ADMIN_POLICY=admin_policy_yaml(world.ollama.url) + CAPS)

    code, _, err = run_action(monkeypatch, capsys, env)

    assert code == 0, err
    assert read_outputs(world.output)["verdict"] == "accepted"  # the run went on, with the maxima
    [summary] = world.fake.issue_comments(REPO, NUMBER)
    for note in (TIMEOUT_NOTE, PROCESSES_NOTE):
        assert summary["body"].count(note) == 1, summary["body"]
        assert world.summary.read_text().count(note) == 1

    assert main(["log", "--json", "--audit-db", str(world.tmp / "audit.sqlite3")]) == 0
    logged = capsys.readouterr().out
    assert TIMEOUT_NOTE in logged and PROCESSES_NOTE in logged


@pytest.mark.slow
def test_the_apps_worker_applies_the_operators_maxima(world: World, tmp_path: Path) -> None:
    # `guardrail serve` with the operator's policy file in GUARDRAIL_ADMIN_POLICY: its worker (a real process)
    # gates the repository's greedy config with the operator's maxima.
    policy = tmp_path / "operator" / "policy.yml"
    policy.parent.mkdir()
    policy.write_text(admin_policy_yaml(world.ollama.url) + CAPS)
    world.ollama.default = Reply(REVIEW_WITH_FIX)
    app = AppWorld(world, queue=str(tmp_path / "queue.sqlite3"))
    port = free_port()
    env = app.env(GUARDRAIL_WORKERS="1", GUARDRAIL_ADMIN_POLICY=str(policy))
    app.processes.append(Process(["serve", "--port", str(port)], env, tmp_path / "serve.log"))
    app.url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(app.url), 30, "guardrail serve to answer")
        assert app.pull_request("opened", "caps-1").status_code == 202
        assert app.wait_finished("caps-1") == "posted"
    finally:
        app.stop()
    [summary] = world.fake.issue_comments(REPO, NUMBER)
    for note in (TIMEOUT_NOTE, PROCESSES_NOTE):
        assert summary["body"].count(note) == 1, summary["body"]


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code in (200, 503)
    except httpx.TransportError:
        return False
