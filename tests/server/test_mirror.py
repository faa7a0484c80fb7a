"""The worker's shared git mirror (``bot.server.mirror``): real git on both sides, the remote served over smart HTTP
on 127.0.0.1 by ``git http-backend`` wanting an installation token as GitHub does, at the URL the worker builds from
``GUARDRAIL_GIT_URL``; two real processes for the concurrency test, the real jail for the reach test."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.server.deliveries import Job
from bot.server.mirror import mirror_path, prepare_checkout
from bot.server.settings import settings_from
from bot.server.worker import _clone_url
from bot.types import PullInfo
from checks import proc, worktree
from tests.fakes.git_http import GitHttpServer

REPO = "acme/widgets"
NUMBER = 7
TOKEN = "ghs_MirrorTestToken000000000000000000001"


@dataclass
class Remote:
    """A GitHub-like bare repository (``main`` and ``refs/pull/7/head``) and the working clone its commits come from."""

    bare: Path
    work: Path
    base: str = ""
    head: str = ""

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.work, capture_output=True, text=True, check=True).stdout.strip()

    def commit(self, files: dict[str, str], message: str) -> str:
        for name, text in files.items():
            (self.work / name).write_text(text)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def push_pr(self, files: dict[str, str]) -> str:
        """A new commit on the pull request, pushed where GitHub keeps it (``refs/pull/7/head``)."""
        self.git("checkout", "-q", "feature")
        self.head = self.commit(files, "pr change")
        self.git("push", "-q", "--force", str(self.bare), f"HEAD:refs/pull/{NUMBER}/head")
        self.git("checkout", "-q", "main")
        return self.head

    def pull(self) -> PullInfo:
        return PullInfo(REPO, NUMBER, "main", self.base, "feature", self.head, REPO)


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    work = tmp_path / "work"
    work.mkdir()
    bare = tmp_path / "remotes" / f"{REPO}.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    remote = Remote(bare, work)
    remote.git("init", "-q", "-b", "main")
    for n in range(40):  # a history worth fetching: 40 commits of incompressible text
        remote.commit({f"data{n % 5}.txt": os.urandom(6000).hex()}, f"history {n}")
    remote.base = remote.git("rev-parse", "HEAD")
    remote.git("push", "-q", str(bare), "main")
    remote.git("branch", "feature")
    remote.push_pr({"feature.py": "def feature():\n    return 1\n"})
    return remote


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GitHttpServer]:
    with GitHttpServer(tmp_path / "remotes", token=TOKEN) as running:
        yield running


def clone_url(server: GitHttpServer) -> str:
    """The URL the worker fetches from, built as it builds it (``GUARDRAIL_GIT_URL``, ``{repo}``)."""
    settings = settings_from({"GUARDRAIL_GIT_URL": server.template}, {}, need_secret=False)
    job = Job("d-1", "pull_request", "synchronize", REPO, NUMBER, "review", installation_id=1, clone_url="")
    return _clone_url(job, settings)


def git_out(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


def objects(repo: Path) -> dict[str, int]:
    """``git count-objects -v`` as numbers (in-pack sums every pack, so an object fetched twice counts twice)."""
    lines = git_out(repo, "count-objects", "-v").splitlines()
    pairs = (line.split(": ", 1) for line in lines)
    return {key: int(value) for key, value in pairs if key != "alternate"}


def served_bytes(server: GitHttpServer) -> int:
    return sum(s.body_bytes for s in server.packs())


def test_the_second_job_fetches_only_the_new_commit_and_a_checkout_copies_nothing(
    tmp_path: Path, remote: Remote, server: GitHttpServer
) -> None:
    url, root = clone_url(server), tmp_path / "mirrors"
    assert prepare_checkout(tmp_path / "job1", url, remote.pull(), TOKEN, root) == "mirror"
    first = served_bytes(server)
    mirror = mirror_path(root, url)
    before = objects(mirror)["in-pack"] + objects(mirror)["count"]
    assert first > 200_000  # the whole history came once

    server.reset()
    head = remote.push_pr({"feature.py": "def feature():\n    return 2\n"})  # one commit: commit, tree, blob
    checkout = tmp_path / "job2"
    assert prepare_checkout(checkout, url, remote.pull(), TOKEN, root) == "mirror"

    assert served_bytes(server) < 2_000 < first  # a small pack: the new objects only
    assert objects(mirror)["in-pack"] + objects(mirror)["count"] == before + 3
    assert objects(checkout)["count"] == objects(checkout)["in-pack"] == 0  # borrowed, not copied
    assert git_out(checkout, "show", f"{head}:feature.py") == "def feature():\n    return 2"
    assert git_out(mirror, "rev-parse", f"refs/guardrail/pull/{NUMBER}/head") == head

    server.reset()
    assert prepare_checkout(tmp_path / "job3", url, remote.pull(), TOKEN, root) == "mirror"
    assert server.served == []  # a rerun of the same head asks GitHub for nothing


def test_two_worker_processes_check_out_the_same_repository_at_once_and_fetch_it_once(
    tmp_path: Path, remote: Remote, server: GitHttpServer
) -> None:
    url, root = clone_url(server), tmp_path / "mirrors"
    pull = remote.pull()
    code = (
        "import json, sys; from pathlib import Path; from bot.server.mirror import prepare_checkout; "
        "from bot.types import PullInfo; a = json.loads(sys.argv[1]); "
        "print(prepare_checkout(Path(a['dest']), a['url'], PullInfo(*a['pull']), a['token'], Path(a['root'])))"
    )
    fields = [pull.repo_name, pull.number, pull.base_ref, pull.base_sha, pull.head_ref, pull.head_sha, REPO]
    root_dir = Path(__file__).parents[2]

    def start(n: int) -> subprocess.Popen[str]:
        args = {"dest": str(tmp_path / f"job{n}"), "url": url, "pull": fields, "token": TOKEN, "root": str(root)}
        argv = [sys.executable, "-c", code, json.dumps(args)]
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=root_dir)

    workers = [start(n) for n in range(2)]
    results = [w.communicate(timeout=120) for w in workers]

    assert [out.strip() for out, _ in results] == ["mirror", "mirror"], [err for _, err in results]
    for n in range(2):
        assert git_out(tmp_path / f"job{n}", "rev-parse", f"{remote.head}^{{commit}}") == remote.head
    assert len(server.packs()) == 1  # one process fetched under the lock; the other found the commits there


def test_a_damaged_mirror_is_rebuilt_and_the_job_goes_on(
    tmp_path: Path, remote: Remote, server: GitHttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    url, root = clone_url(server), tmp_path / "mirrors"
    prepare_checkout(tmp_path / "job1", url, remote.pull(), TOKEN, root)
    mirror = mirror_path(root, url)
    for pack in (mirror / "objects" / "pack").glob("*.pack"):  # a disk error: the pack no longer matches its index
        pack.chmod(0o644)
        pack.write_bytes(pack.read_bytes()[:100])

    with caplog.at_level(logging.INFO, logger="guardrail.server.mirror"):
        assert prepare_checkout(tmp_path / "job2", url, remote.pull(), TOKEN, root) == "rebuilt"

    assert "unusable" in caplog.text and "rebuilding it" in caplog.text and "rebuilt" in caplog.text
    subprocess.run(["git", "fsck", "--no-dangling"], cwd=mirror, check=True, capture_output=True)
    assert git_out(tmp_path / "job2", "show", f"{remote.head}:feature.py").startswith("def feature")
    assert sorted(p.name for p in root.iterdir()) == sorted([mirror.name, mirror.with_suffix(".lock").name])

    (mirror / "config").write_text("[core\ngarbage")  # not even a repository any more
    assert prepare_checkout(tmp_path / "job3", url, remote.pull(), TOKEN, root) == "rebuilt"
    assert git_out(mirror, "rev-parse", "--is-bare-repository") == "true"


def test_a_stale_git_lock_left_by_a_killed_fetch_does_not_stop_the_next_job(
    tmp_path: Path, remote: Remote, server: GitHttpServer
) -> None:
    url, root = clone_url(server), tmp_path / "mirrors"
    prepare_checkout(tmp_path / "job1", url, remote.pull(), TOKEN, root)
    mirror = mirror_path(root, url)
    (mirror / "refs" / "guardrail" / "pull" / str(NUMBER) / "head.lock").write_text("")
    (mirror / "packed-refs.lock").write_text("")
    head = remote.push_pr({"feature.py": "x = 3\n"})

    assert prepare_checkout(tmp_path / "job2", url, remote.pull(), TOKEN, root) == "mirror"
    assert git_out(mirror, "rev-parse", f"refs/guardrail/pull/{NUMBER}/head") == head


def test_the_token_reaches_github_but_no_file_of_the_mirror_or_the_checkout(
    tmp_path: Path, remote: Remote, server: GitHttpServer
) -> None:
    url, root = clone_url(server), tmp_path / "mirrors"
    prepare_checkout(tmp_path / "job1", url, remote.pull(), TOKEN, root)
    remote.push_pr({"feature.py": "y = 1\n"})
    prepare_checkout(tmp_path / "job2", url, remote.pull(), TOKEN, root)

    assert server.packs() and all(s.authorization.lower().startswith("basic ") for s in server.packs())
    secrets = (TOKEN.encode(), base64.b64encode(f"x-access-token:{TOKEN}".encode()))
    files = [p for top in (root, tmp_path / "job1", tmp_path / "job2") for p in top.rglob("*") if p.is_file()]
    assert len(files) > 20
    assert [f for f in files if any(s in f.read_bytes() for s in secrets)] == []
    assert git_out(mirror_path(root, url), "config", "--list", "--local").count("extraheader") == 0

    with pytest.raises(ConfigError, match="could not be fetched"):  # a wrong token: GitHub's 401, the job says so
        remote.push_pr({"feature.py": "y = 2\n"})
        prepare_checkout(tmp_path / "job3", url, remote.pull(), "ghs_wrong", root)


def test_github_unreachable_keeps_the_mirror_and_the_job_fails_with_the_reason(
    tmp_path: Path, remote: Remote, server: GitHttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    url, root = clone_url(server), tmp_path / "mirrors"
    prepare_checkout(tmp_path / "job1", url, remote.pull(), TOKEN, root)
    mirror = mirror_path(root, url)
    kept = objects(mirror)["in-pack"]
    remote.push_pr({"feature.py": "z = 1\n"})
    gone = url.replace(url.split("/")[2], "127.0.0.1:9")  # nothing listens on the discard port

    with caplog.at_level(logging.WARNING, logger="guardrail.server.mirror"), pytest.raises(ConfigError):
        prepare_checkout(tmp_path / "job2", gone, remote.pull(), TOKEN, root)

    assert "fetching directly" in caplog.text
    assert objects(mirror_path(root, gone))["in-pack"] == 0 and objects(mirror)["in-pack"] == kept


def test_no_usable_mirror_folder_means_a_direct_fetch_with_a_log_line(
    tmp_path: Path, remote: Remote, server: GitHttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    with caplog.at_level(logging.WARNING, logger="guardrail.server.mirror"):
        assert prepare_checkout(tmp_path / "job", clone_url(server), remote.pull(), TOKEN, blocked / "m") == "direct"
    assert "fetching directly" in caplog.text
    assert git_out(tmp_path / "job", "rev-parse", f"{remote.head}^{{commit}}") == remote.head


def test_pr_code_in_the_jail_cannot_reach_the_mirror_and_our_own_git_writes_stay_in_the_checkout(
    tmp_path: Path, remote: Remote, server: GitHttpServer
) -> None:
    url, root = clone_url(server), tmp_path / "mirrors"
    checkout = tmp_path / "job"
    prepare_checkout(checkout, url, remote.pull(), TOKEN, root)
    mirror = mirror_path(root, url)
    alternates = checkout / ".git" / "objects" / "info" / "alternates"
    before = sorted(p.relative_to(mirror) for p in mirror.rglob("*"))
    attack = (
        f"echo poison > {mirror}/objects/poison; echo {tmp_path}/elsewhere > {alternates}; "
        f"cat {alternates}; ls {mirror}/objects; cat .git; echo x > .git; echo done"
    )
    with worktree.worktree(checkout, remote.head) as tree:
        result = proc.run(["sh", "-c", attack], cwd=tree, timeout=60)
        assert result.stdout.strip() == "done", result.stderr  # it ran, and reached none of it
        written = subprocess.run(
            ["git", "hash-object", "-w", "--stdin"], cwd=tree, input="ours\n", capture_output=True, text=True
        ).stdout.strip()

    assert sorted(p.relative_to(mirror) for p in mirror.rglob("*")) == before
    assert alternates.read_text() == f"{(mirror / 'objects').resolve()}\n"
    assert (checkout / ".git" / "objects" / written[:2] / written[2:]).is_file()
    assert not (mirror / "objects" / written[:2]).exists()


def test_a_mirror_emptied_inside_a_home_repository_is_rebuilt_and_the_home_repository_left_alone(
    tmp_path: Path, remote: Remote, server: GitHttpServer
) -> None:
    home = tmp_path / "home"  # some keep their home folder in git: the cache folder is then inside a repository
    subprocess.run(["git", "init", "-q", str(home)], check=True)
    url, root = clone_url(server), home / ".cache" / "guardrail" / "mirrors"
    prepare_checkout(tmp_path / "job1", url, remote.pull(), TOKEN, root)
    mirror = mirror_path(root, url)
    (mirror / "HEAD").unlink()  # no longer a repository: git would look for one above it

    assert prepare_checkout(tmp_path / "job2", url, remote.pull(), TOKEN, root) == "rebuilt"
    assert git_out(home, "for-each-ref") == "" and objects(home)["count"] == objects(home)["in-pack"] == 0
    assert git_out(mirror, "rev-parse", f"refs/guardrail/pull/{NUMBER}/head") == remote.head
