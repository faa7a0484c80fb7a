"""checks.worktree: revisions, files at a revision, the PR diff, throwaway worktrees."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.errors import ConfigError
from checks import worktree
from tests.repos import GitRepo


def test_resolve_gives_the_full_sha(make_repo: Callable[..., GitRepo]) -> None:
    repo = make_repo()
    sha = repo.git("rev-parse", "HEAD").strip()
    assert worktree.resolve(repo.path, "main") == sha
    assert worktree.resolve(repo.path, sha[:8]) == sha


@pytest.mark.parametrize("rev", ["no-such-branch", "--output=/tmp/x"])
def test_unknown_revision_is_a_config_error(make_repo: Callable[..., GitRepo], rev: str) -> None:
    repo = make_repo()
    with pytest.raises(ConfigError, match="revision"):
        worktree.resolve(repo.path, rev)


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a git repository"):
        worktree.resolve(tmp_path, "HEAD")


def test_read_file_at_reads_the_given_revision(make_repo: Callable[..., GitRepo]) -> None:
    repo = make_repo({"a.txt": "one\n"})
    first = repo.git("rev-parse", "HEAD").strip()
    repo.commit({"a.txt": "two\n"})
    assert worktree.read_file_at(repo.path, first, "a.txt") == "one\n"
    assert worktree.read_file_at(repo.path, "HEAD", "a.txt") == "two\n"
    assert worktree.read_file_at(repo.path, "HEAD", ".github/guardrail.yml") is None
    assert worktree.read_file_at(repo.path, "HEAD", "missing/deeper.txt") is None


def test_diff_is_merge_base_to_head(make_repo: Callable[..., GitRepo]) -> None:
    repo = make_repo({"a.txt": "one\n"})
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit({"b.txt": "feature\n"})
    repo.git("checkout", "-q", "main")
    repo.commit({"c.txt": "main moved on\n"})
    text = worktree.diff(repo.path, "main", "feature")
    assert "+++ b/b.txt" in text
    assert "c.txt" not in text  # main's own later changes are not part of the PR
    assert text.endswith("\n")


def test_list_files(make_repo: Callable[..., GitRepo]) -> None:
    repo = make_repo({"a.txt": "1\n", "pkg/b.py": "x = 1\n"})
    assert worktree.list_files(repo.path, "HEAD") == ["a.txt", "pkg/b.py"]


def test_worktree_is_a_checkout_and_is_removed(make_repo: Callable[..., GitRepo]) -> None:
    repo = make_repo({"a.txt": "one\n"})
    with worktree.worktree(repo.path, "HEAD") as path:
        assert (path / "a.txt").read_text() == "one\n"
        assert len(repo.worktrees()) == 2
        (path / "junk").mkdir()
        (path / "junk" / "file").write_text("x")
        (path / "junk").chmod(0o500)  # PR code may leave read-only directories behind
    assert not path.exists()
    repo.assert_no_worktree_left()


def test_worktree_is_removed_on_error(make_repo: Callable[..., GitRepo]) -> None:
    repo = make_repo({"a.txt": "one\n"})
    with pytest.raises(KeyboardInterrupt), worktree.worktree(repo.path, "HEAD") as path:
        raise KeyboardInterrupt
    assert not path.exists()
    repo.assert_no_worktree_left()


def test_a_worktree_left_by_a_killed_run_does_not_block_the_next(make_repo: Callable[..., GitRepo]) -> None:
    repo = make_repo({"a.txt": "one\n"})
    crash = (
        "import os, signal, sys\nfrom pathlib import Path\nfrom checks import worktree\n"
        f"with worktree.worktree(Path({str(repo.path)!r}), 'HEAD') as path:\n"
        "    print(path, flush=True)\n    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", crash], capture_output=True, text=True, timeout=60)
    left = Path(done.stdout.strip())
    assert left.exists() and len(repo.worktrees()) == 2  # the killed run could not clean up
    with worktree.worktree(repo.path, "HEAD") as path:
        assert (path / "a.txt").read_text() == "one\n"
    repo.assert_no_worktree_left()
