"""Unified-diff hunks as GitHub sees them, for the fake's review-comment validation and its ``/files`` listing.

GitHub accepts a review comment only on a line inside a hunk of the PR diff, on the side the comment names
(``RIGHT``: added and context lines, numbered in the head version; ``LEFT``: removed and context lines, numbered in the
base version), and a multi-line range only when both ends lie in the same hunk (tests/data/github/FACTS.md §4.1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass
class Hunk:
    header: str
    lines: list[str] = field(default_factory=list)
    left: set[int] = field(default_factory=set)
    right: set[int] = field(default_factory=set)

    def side_lines(self, side: str) -> set[int]:
        return self.left if side == "LEFT" else self.right


@dataclass
class FileDiff:
    path: str
    old_path: str
    status: str = "modified"  # added, removed, modified, renamed (the values of GitHub's diff-entry schema)
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def additions(self) -> int:
        return sum(1 for h in self.hunks for line in h.lines if line.startswith("+"))

    @property
    def deletions(self) -> int:
        return sum(1 for h in self.hunks for line in h.lines if line.startswith("-"))

    @property
    def patch(self) -> str:
        return "\n".join("\n".join([h.header, *h.lines]) for h in self.hunks)

    def position_of(self, line: int, side: str) -> int | None:
        """The deprecated ``position``: lines below the file's first ``@@`` header, later headers counted too."""
        position = -1
        for hunk in self.hunks:
            position += 1
            old_no, new_no = _starts(hunk.header)
            for text in hunk.lines:
                position += 1
                kind = text[:1]
                if side == "LEFT":
                    here = old_no if kind in ("-", " ") else None
                else:
                    here = new_no if kind in ("+", " ") else None
                if here == line:
                    return position
                old_no += kind in ("-", " ")
                new_no += kind in ("+", " ")
        return None

    def hunk_of(self, line: int, side: str) -> Hunk | None:
        return next((h for h in self.hunks if line in h.side_lines(side)), None)


def parse_diff(text: str) -> dict[str, FileDiff]:
    """Files of a ``git diff``-style unified diff, keyed by their path in the head version (the old path if deleted)."""
    files: list[FileDiff] = []
    current: FileDiff | None = None
    hunk: Hunk | None = None
    old_no = new_no = 0
    for line in text.splitlines():
        if line.startswith("diff --git "):
            a, _, b = line[len("diff --git ") :].partition(" b/")
            current = FileDiff(path=b, old_path=a.removeprefix("a/"))
            files.append(current)
            hunk = None
        elif current is None:
            continue
        elif hunk is None and _file_header(line, current):
            continue
        elif match := _HUNK_HEADER.match(line):
            old_no, new_no = int(match[1]), int(match[3])
            hunk = Hunk(header=line)
            current.hunks.append(hunk)
        elif hunk is not None and line[:1] in ("+", "-", " ", "\\"):
            hunk.lines.append(line)
            if line.startswith("+"):
                hunk.right.add(new_no)
                new_no += 1
            elif line.startswith("-"):
                hunk.left.add(old_no)
                old_no += 1
            elif line.startswith(" "):
                hunk.left.add(old_no)
                hunk.right.add(new_no)
                old_no, new_no = old_no + 1, new_no + 1
    return {f.path: f for f in files}


def _starts(header: str) -> tuple[int, int]:
    match = _HUNK_HEADER.match(header)
    return (int(match[1]), int(match[3])) if match else (0, 0)


def _file_header(line: str, current: FileDiff) -> bool:
    """Consume the extended header lines between ``diff --git`` and the first hunk; True if ``line`` was one."""
    if line.startswith("new file mode"):
        current.status = "added"
    elif line.startswith("deleted file mode"):
        current.status = "removed"
    elif line.startswith("rename from "):
        current.status = "renamed"
        current.old_path = line[len("rename from ") :]
    elif line.startswith("rename to "):
        current.path = line[len("rename to ") :]
    elif line.startswith("+++ ") and line[4:] != "/dev/null":
        current.path = line[4:].removeprefix("b/")
    elif not line.startswith(("index ", "--- ", "+++ ", "old mode", "new mode", "similarity index", "Binary files")):
        return False
    return True


def comment_outside_diff(files: dict[str, FileDiff], comment: dict[str, object]) -> bool:
    """True if GitHub would refuse this review comment because its lines are not part of the diff."""
    path = comment.get("path")
    line = comment.get("line")
    if not isinstance(path, str) or path not in files or not isinstance(line, int):
        return True
    side = str(comment.get("side") or "RIGHT")
    hunk = files[path].hunk_of(line, side)
    if hunk is None:
        return True
    start_line = comment.get("start_line")
    if start_line is None:
        return False
    start_side = str(comment.get("start_side") or side)
    if not isinstance(start_line, int) or start_line > line:
        return True
    return files[path].hunk_of(start_line, start_side) is not hunk
