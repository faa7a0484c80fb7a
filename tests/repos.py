"""Real git repositories for tests: build one from a dict of files, commit, list its worktrees."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

GIT_ID = ["-c", "user.name=Guardrail Test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false"]

CALC = """def add(a, b):
    return a + b


def sub(a, b):
    return a - b
"""

CALC_TESTS = """from calc import add, sub


def test_add():
    assert add(1, 2) == 3


def test_sub():
    assert sub(3, 1) == 2
"""


@dataclass
class GitRepo:
    path: Path

    def git(self, *args: str) -> str:
        done = subprocess.run(["git", *GIT_ID, *args], cwd=self.path, capture_output=True, text=True, check=True)
        return done.stdout

    def write(self, files: dict[str, str]) -> None:
        for rel, text in files.items():
            target = self.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)

    def commit(self, files: dict[str, str] | None = None, message: str = "change") -> str:
        self.write(files or {})
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def worktrees(self) -> list[str]:
        """Every worktree git knows of, the main checkout included."""
        listing = self.git("worktree", "list", "--porcelain")
        return [line.split(" ", 1)[1] for line in listing.splitlines() if line.startswith("worktree ")]

    def assert_no_worktree_left(self) -> None:
        assert self.worktrees() == [str(self.path)]
        leftovers = self.path / ".git" / "worktrees"
        assert not leftovers.exists() or not any(leftovers.iterdir())

    def diff_for(self, files: dict[str, str | None], symlinks: dict[str, str] | None = None) -> str:
        """The `git diff` that turns HEAD into HEAD plus ``files`` (None deletes a file); the checkout is restored."""
        for rel, text in files.items():
            target = self.path / rel
            if text is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
        for rel, points_to in (symlinks or {}).items():
            (self.path / rel).symlink_to(points_to)
        self.git("add", "-A", "--intent-to-add")
        try:
            return self.git("diff", "HEAD")
        finally:
            self.git("reset", "-q", "--hard", "HEAD")
            self.git("clean", "-q", "-fdx")


def alive(marker: str) -> list[int]:
    """Pids of running processes whose command line contains ``marker`` (to prove a gate left none behind)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids
