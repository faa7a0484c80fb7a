"""Diff parsing, new-side line arithmetic and patch writing, checked against real git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.parse.diff import (
    Hunk,
    changed_paths,
    hunk_range_ok,
    make_patch,
    new_side_lines,
    parse_diff,
    reduce_context,
)


def git(repo: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=repo, input=stdin, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"git {' '.join(args)} failed: {done.stderr}"
    return done.stdout


def make_repo(tmp_path: Path, files: dict[str, str]) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "core.autocrlf", "false")
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(text.encode())
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base", "--allow-empty")
    return repo


def apply(repo: Path, patch: str) -> None:
    """``git apply`` for real: the patch must be accepted and leave the files as intended."""
    git(repo, "apply", "--check", "-", stdin=patch)
    git(repo, "apply", "-", stdin=patch)


LINES = "".join(f"line {n}\n" for n in range(1, 41))


def test_make_patch_applies_and_gives_the_new_text(tmp_path: Path) -> None:
    after = LINES.replace("line 5\n", "line five\n").replace("line 30\n", "line 30\nline 30b\n")
    repo = make_repo(tmp_path, {"src/a.txt": LINES})
    patch = make_patch("src/a.txt", LINES, after)
    assert patch.startswith("diff --git a/src/a.txt b/src/a.txt\n--- a/src/a.txt\n+++ b/src/a.txt\n@@ -2,7 +2,7 @@")
    apply(repo, patch)
    assert (repo / "src/a.txt").read_text() == after


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("a\nb\nc", "a\nB\nc"),  # no newline at the end on both sides
        ("a\nb\nc", "a\nb\nc\n"),  # newline added at the end
        ("a\nb\nc\n", "a\nb\nc"),  # newline removed at the end
        ("a\r\nb\r\nc\r\n", "a\r\nB\r\nc\r\n"),  # CRLF file stays CRLF
        ("", "first\n"),  # an empty file gets content
        ("x\n", ""),  # a file emptied
    ],
)
def test_make_patch_end_of_file_and_line_endings(tmp_path: Path, before: str, after: str) -> None:
    repo = make_repo(tmp_path, {"f.txt": before})
    apply(repo, make_patch("f.txt", before, after))
    assert (repo / "f.txt").read_bytes() == after.encode()


def test_make_patch_new_and_deleted_files(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {"old.py": "x = 1\n"})
    created = make_patch("pkg/new.py", None, "y = 2\n")
    assert "new file mode 100644\n--- /dev/null\n+++ b/pkg/new.py\n@@ -0,0 +1 @@\n+y = 2\n" in created
    deleted = make_patch("old.py", "x = 1\n", None)
    assert "deleted file mode 100644\n--- a/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x = 1\n" in deleted
    apply(repo, created + deleted)
    assert (repo / "pkg/new.py").read_text() == "y = 2\n"
    assert not (repo / "old.py").exists()


def test_make_patch_new_empty_file_and_path_with_spaces(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {"my dir/a b.py": "x = 1\n"})
    apply(repo, make_patch("__init__.py", None, "") + make_patch("my dir/a b.py", "x = 1\n", "x = 2\n"))
    assert (repo / "__init__.py").read_text() == ""
    assert (repo / "my dir/a b.py").read_text() == "x = 2\n"


def test_make_patch_is_empty_when_nothing_changes() -> None:
    assert make_patch("a.py", "x\n", "x\n") == ""


def test_parse_diff_reads_what_git_writes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {"a.py": LINES, "gone.txt": "bye\n", "old name.txt": "same\n" * 5, "img.bin": ""})
    (repo / "a.py").write_text(LINES.replace("line 3\n", "line 3\n--- not a header\n").replace("line 39\n", ""))
    (repo / "gone.txt").unlink()
    (repo / "new.txt").write_text("hello\nno newline")
    git(repo, "mv", "old name.txt", "new name.txt")
    (repo / "img.bin").write_bytes(b"\x00\x01\x02")
    git(repo, "add", "-A")
    files = {f.path: f for f in parse_diff(git(repo, "diff", "--cached", "-M"))}

    assert set(files) == {"a.py", "gone.txt", "new.txt", "new name.txt", "img.bin"}
    a = files["a.py"]
    assert [(h.old_start, h.old_len, h.new_start, h.new_len) for h in a.hunks] == [(1, 6, 1, 7), (36, 5, 37, 4)]
    assert a.hunks[0].added_lines() == [4]
    assert files["gone.txt"].is_deleted and files["gone.txt"].new_path is None
    assert files["new.txt"].is_new and files["new.txt"].hunks[0].lines[-1] == "\\ No newline at end of file"
    assert files["new name.txt"].is_rename and files["new name.txt"].old_path == "old name.txt"
    assert files["img.bin"].is_binary


def test_parse_diff_of_plain_unified_diff_without_git_lines() -> None:
    text = "some prose\n--- a/x.py\t2024-01-01\n+++ b/x.py\t2024-01-02\n@@ -1,2 +1,2 @@\n-a\n+b\n c\nmore prose\n"
    (file,) = parse_diff(text)
    assert (file.old_path, file.new_path) == ("x.py", "x.py")
    assert file.hunks[0].lines == ("-a", "+b", " c")


GITHUB_DIFF = """\
diff --git a/src/app.py b/src/app.py
index 1111111..2222222 100644
--- a/src/app.py
+++ b/src/app.py
@@ -10,6 +10,7 @@ def main():
     a = 1
     b = 2
     c = 3
+    d = 4
     e = 5
     f = 6
     g = 7
@@ -40,4 +41,3 @@ def other():
     x = 1
-    y = 2
     z = 3
     w = 4
diff --git a/README.md b/README.md
deleted file mode 100644
index 3333333..0000000
--- a/README.md
+++ /dev/null
@@ -1,2 +0,0 @@
-# Title
-text
"""


def test_new_side_lines_are_context_and_added_lines_of_each_hunk() -> None:
    lines = new_side_lines(GITHUB_DIFF)
    assert lines == {"src/app.py": set(range(10, 17)) | set(range(41, 44))}
    assert changed_paths(GITHUB_DIFF) == ["src/app.py", "README.md"]


@pytest.mark.parametrize(
    ("path", "start", "line", "ok"),
    [
        ("src/app.py", None, 13, True),  # the added line
        ("src/app.py", None, 10, True),  # context at the top of the hunk
        ("src/app.py", 10, 16, True),  # the whole first hunk
        ("src/app.py", None, 17, False),  # just after the first hunk
        ("src/app.py", None, 88, False),  # nowhere near
        ("src/app.py", 14, 42, False),  # crosses from one hunk to the next
        ("src/app.py", 13, 12, False),  # start after end
        ("README.md", None, 1, False),  # deleted file: no new side
        ("other.py", None, 1, False),
    ],
)
def test_hunk_range_ok(path: str, start: int | None, line: int, ok: bool) -> None:
    assert hunk_range_ok(GITHUB_DIFF, path, start, line) is ok
    assert hunk_range_ok(parse_diff(GITHUB_DIFF), path, start, line) is ok


def test_reduce_context_keeps_changes_and_still_applies(tmp_path: Path) -> None:
    after = LINES.replace("line 10\n", "line ten\n").replace("line 20\n", "")
    repo = make_repo(tmp_path, {"a.txt": LINES})
    full = make_patch("a.txt", LINES, after, context=5)
    reduced = reduce_context(full, 1)
    (file,) = parse_diff(reduced)
    assert [h.lines for h in file.hunks] == [
        (" line 9", "-line 10", "+line ten", " line 11"),
        (" line 19", "-line 20", " line 21"),
    ]
    apply(repo, reduced)
    assert (repo / "a.txt").read_text() == after


def test_reduce_context_to_zero_on_an_insertion_at_the_top(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {"a.txt": LINES})
    reduced = reduce_context(make_patch("a.txt", LINES, "# head\n" + LINES), 0)
    assert "@@ -0,0 +1 @@\n+# head\n" in reduced
    git(repo, "apply", "--unidiff-zero", "--check", "-", stdin=reduced)


def test_hunk_new_range_of_a_pure_deletion_is_empty() -> None:
    hunk = Hunk(5, 1, 4, 0, ("-gone",))
    assert list(hunk.new_range) == []


def test_quoted_paths_and_no_newline_markers_survive_parsing_and_recutting(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {"café.py": "a\nb\nc\nd\ne\nf\ng"})
    (repo / "café.py").write_text("a\nb\nc\nd\ne\nf\nG")
    diff = git(repo, "diff")
    assert '"a/caf\\303\\251.py"' in diff  # git quotes non-ASCII paths
    (file,) = parse_diff(diff)
    assert file.path == "café.py"
    assert new_side_lines(diff) == {"café.py": set(range(4, 8))}
    reduced = reduce_context(diff, 1)
    assert reduced.endswith("-g\n\\ No newline at end of file\n+G\n\\ No newline at end of file\n")
    git(repo, "apply", "--check", "-R", "-", stdin=reduced)
