"""The fork-safe pair: `--no-post --outcome-out` under a read-only token, then `--post-outcome` under workflow_run,
which treats the artifact as untrusted data."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from tests.demo_pr import GOOD_PATCH
from tests.fakes.github_server import FakeGitHub
from tests.fakes.model_servers import FakeOllama, Reply
from tests.github.action_world import NUMBER, REPO, World, read_outputs

FORK = "forker/Hello-World"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with FakeGitHub() as fake, FakeOllama() as ollama:
        fake.grant("ghs_ReadOnly", "read")
        yield World.build(tmp_path, fake, ollama, head_repo=FORK)


def _action(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *args: str) -> int:
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "GUARDRAIL_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return main(["action", *args])


def _workflow_run_event(world: World, head_sha: str) -> dict[str, str]:
    """The workflow_run delivery (no real example is stored; only the fields Guardrail reads, plus context)."""
    path = world.tmp / "workflow_run.json"
    run = {"id": 30433642, "event": "pull_request", "head_sha": head_sha, "head_repository": {"full_name": FORK}}
    path.write_text(json.dumps({"action": "completed", "workflow_run": run, "repository": {"full_name": REPO}}))
    return {"GITHUB_EVENT_NAME": "workflow_run", "GITHUB_EVENT_PATH": str(path)}


def _compute(world: World, monkeypatch: pytest.MonkeyPatch) -> Path:
    world.ollama.default = Reply(GOOD_PATCH)
    world.pull_request_event("opened", head_repo=FORK)
    artifact = world.tmp / "artifact" / "outcome.json"
    env = world.env(GUARDRAIL_PURPOSE="patch", GUARDRAIL_GITHUB_TOKEN="ghs_ReadOnly", GUARDRAIL_FAIL_ON="never")
    assert _action(monkeypatch, env, "--no-post", "--outcome-out", str(artifact)) == 0
    assert world.writes() == []
    return artifact


@pytest.mark.slow
def test_the_pair_posts_the_outcome_computed_under_the_read_only_token(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    artifact = _compute(world, monkeypatch)
    world.output.unlink()

    env = world.env() | _workflow_run_event(world, world.head)
    code = _action(monkeypatch, env, "--post-outcome", str(artifact))

    assert code == 0, capsys.readouterr().err
    assert read_outputs(world.output) == {"verdict": "accepted", "posted": "true", "model": "coder-local"}
    [review] = world.fake.reviews(REPO, NUMBER)
    assert review["commit_id"] == world.head and "range(1, n + 1)" in review["comments"][0]["body"]
    [summary] = world.fake.issue_comments(REPO, NUMBER)
    assert "posted by the workflow_run half" in summary["body"]
    assert "gates were run again by the posting half" in summary["body"]
    assert [c["head_sha"] for c in world.fake.check_runs(REPO)] == [world.head]


@pytest.mark.slow
def test_a_tampered_or_stale_artifact_is_refused(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    artifact = _compute(world, monkeypatch)
    data = json.loads(artifact.read_text())

    stale = world.env() | _workflow_run_event(world, "f" * 40)  # the run was for another head
    assert _action(monkeypatch, stale, "--post-outcome", str(artifact)) == 2
    assert "refusing the outcome file" in capsys.readouterr().err

    other_repo = dict(data, pr=dict(data["pr"], repo_name="evil/repo"))
    artifact.write_text(json.dumps(other_repo))
    assert (
        _action(monkeypatch, world.env() | _workflow_run_event(world, world.head), "--post-outcome", str(artifact)) == 2
    )
    assert "for repository 'evil/repo'" in capsys.readouterr().err

    artifact.write_text(json.dumps(dict(data, purpose="deploy")))
    assert (
        _action(monkeypatch, world.env() | _workflow_run_event(world, world.head), "--post-outcome", str(artifact)) == 2
    )
    assert "key 'purpose'" in capsys.readouterr().err
    assert world.writes() == []


FORGED = """diff --git a/conftest.py b/conftest.py
new file mode 100644
--- /dev/null
+++ b/conftest.py
@@ -0,0 +1 @@
+collect_ignore_glob = ["*"]
"""


@pytest.mark.slow
def test_a_forged_outcome_is_gated_again_and_not_posted_as_verified(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The fork's run is the fork author's: its artifact claims "accepted" for a patch that edits a protected path.
    artifact = _compute(world, monkeypatch)
    data = json.loads(artifact.read_text())
    data["suggestion"]["patch"] = FORGED
    artifact.write_text(json.dumps(data))
    world.output.unlink()

    code = _action(monkeypatch, world.env() | _workflow_run_event(world, world.head), "--post-outcome", str(artifact))

    assert code in (0, 1), capsys.readouterr().err
    assert read_outputs(world.output)["posted"] == "false"
    assert world.fake.reviews(REPO, NUMBER) == []
    [summary] = world.fake.issue_comments(REPO, NUMBER)
    assert "run again by the posting half" in summary["body"] and "collect_ignore_glob" not in summary["body"]
