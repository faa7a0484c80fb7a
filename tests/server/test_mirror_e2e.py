"""The shared git mirror inside the real App: `guardrail serve` with a worker, the repository served over smart HTTP
(``git http-backend``) at ``GUARDRAIL_GIT_URL`` and letting in only the installation tokens the fake GitHub minted."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from tests.demo_pr import REVIEW_WITH_FIX
from tests.fakes.git_http import GitHttpServer
from tests.fakes.github_server import FakeGitHub
from tests.fakes.model_servers import FakeOllama, Reply
from tests.github.action_world import NUMBER, REPO, World
from tests.server.app_world import AppWorld

pytestmark = pytest.mark.slow


def stored_objects(repo: Path) -> int:
    """Objects stored in ``repo``, loose plus in every pack (an object fetched twice counts twice)."""
    out = subprocess.run(["git", "count-objects", "-v"], cwd=repo, capture_output=True, text=True, check=True).stdout
    numbers = dict(line.split(": ", 1) for line in out.splitlines())
    return int(numbers["count"]) + int(numbers["in-pack"])


def test_a_push_is_fetched_incrementally_into_the_workers_mirror_and_no_token_lands_on_disk(
    tmp_path: Path, fake: FakeGitHub, ollama: FakeOllama
) -> None:
    world = World.build(tmp_path, fake, ollama)
    served = tmp_path / "served" / f"{REPO}.git"
    served.parent.mkdir(parents=True)
    served.symlink_to(world.repo / ".git")
    with GitHttpServer(tmp_path / "served", accept=lambda token: token in fake.tokens) as git:
        app = AppWorld(world, queue=str(tmp_path / "queue.sqlite3"), git_url=git.template)
        try:
            ollama.default = Reply(REVIEW_WITH_FIX)
            app.serve(workers=1)
            assert app.pull_request("opened", "d-1").status_code == 202
            assert app.wait_finished("d-1") == "posted"
            first = sum(s.body_bytes for s in git.packs())
            [mirror] = (tmp_path / "cache" / "mirrors").glob("*.git")
            before = stored_objects(mirror)
            git.reset()

            world.push("README.md", "# mathkit, pushed again\n")
            assert app.pull_request("synchronize", "d-2").status_code == 202
            assert app.wait_finished("d-2") == "posted"
            second = sum(s.body_bytes for s in git.packs())
            after = stored_objects(mirror)
        finally:
            app.stop()

    assert [len(app.job_lines(d, "checkout ready (mirror)")) for d in ("d-1", "d-2")] == [1, 1]
    assert after == before + 3 and 0 < second < first  # the push's commit, tree and blob: not the history again
    [review] = [r for r in fake.reviews(REPO, NUMBER) if r["commit_id"] == world.head]
    assert review["commit_id"] == world.head
    mirrors = tmp_path / "cache" / "mirrors"
    files = [p for p in mirrors.rglob("*") if p.is_file()]
    tokens = [t.encode() for t in fake.tokens] + [base64.b64encode(f"x-access-token:{t}".encode()) for t in fake.tokens]
    assert files and [f for f in files if any(t in f.read_bytes() for t in tokens)] == []
