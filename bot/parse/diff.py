"""Unified diffs: parse git's output, answer "is this line on the new side of one hunk", and write clean patches.

``parse_diff`` reads what ``git diff`` and GitHub's ``application/vnd.github.diff`` produce (it trusts the hunk
line counts; a model's sloppy diff goes through ``bot.parse.unified_diff`` instead). ``make_patch`` writes the git-style
diff that ``git apply`` takes, so every patch Guardrail checks or posts comes out of one writer.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

NO_NEWLINE = "\\ No newline at end of file"
# Every git command whose diff Guardrail parses runs with these, so that nothing in a user's or a runner's git config
# (diff.noprefix, diff.mnemonicPrefix, diff.external, color.ui=always, diff.renames, textconv drivers,
# diff.suppressBlankEmpty, diff.context, diff.orderFile, core.quotePath) changes what is parsed.
GIT_DIFF_CONFIG = (
    "-c", "core.quotePath=true",
    "-c", "diff.noprefix=false",
    "-c", "diff.mnemonicPrefix=false",
    "-c", "diff.suppressBlankEmpty=false",
    "-c", "diff.relative=false",
    "-c", "color.ui=never",
)  # fmt: skip
# with these, rename detection is set by the caller: ``-M`` as GitHub shows a PR, ``--no-renames`` for a patch
GIT_DIFF_OPTIONS = (
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--src-prefix=a/",
    "--dst-prefix=b/",
    "--unified=3",
    "--inter-hunk-context=0",
    "--no-relative",
    "-O/dev/null",
    "--diff-algorithm=myers",
)
_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")
_C_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "r": "\r", "v": "\v"}


@dataclass(frozen=True)
class Hunk:
    """One ``@@`` hunk. ``lines`` keep their one-character prefix (`` ``, ``+``, ``-`` or ``\\``), no newline."""

    old_start: int
    old_len: int
    new_start: int
    new_len: int
    lines: tuple[str, ...]
    section: str = ""  # the text after the second "@@" (git's function context)

    @property
    def new_range(self) -> range:
        """Lines of the new file this hunk shows (context and added): what GitHub accepts on side RIGHT."""
        return range(self.new_start, self.new_start + self.new_len)

    def added_lines(self) -> list[int]:
        """New-side line numbers of the ``+`` lines."""
        added, new_no = [], self.new_start
        for line in self.lines:
            if line.startswith("+"):
                added.append(new_no)
            if line[:1] in (" ", "+"):
                new_no += 1
        return added


@dataclass(frozen=True)
class FileDiff:
    """One file's part of a diff. Paths carry no ``a/``/``b/`` prefix; ``None`` is the ``/dev/null`` side."""

    old_path: str | None
    new_path: str | None
    hunks: tuple[Hunk, ...] = ()
    is_binary: bool = False
    is_new: bool = False
    is_deleted: bool = False
    is_rename: bool = False
    header: tuple[str, ...] = field(default=(), repr=False)  # raw lines before the first hunk

    @property
    def path(self) -> str:
        """The path a reviewer sees: the new one, or the old one for a deleted file."""
        return self.new_path or self.old_path or ""


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split at ``\\n`` only (``str.splitlines`` also splits at ``\\r``, form feeds and
    Unicode separators, which are content to git and GitHub)."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


# --- parsing -----------------------------------------------------------------------------------------------------


def unquote_path(text: str) -> str:
    """Undo git's C-style quoting of a path (``"a\\tb"``); unquoted text is returned as is."""
    if not (len(text) >= 2 and text[0] == '"' and text[-1] == '"'):
        return text
    raw, out, i = text[1:-1], bytearray(), 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            if re.fullmatch(r"[0-7]{3}", raw[i + 1 : i + 4]):
                out.append(int(raw[i + 1 : i + 4], 8))
                i += 4
                continue
            out.extend(_C_ESCAPES.get(nxt, nxt).encode())
            i += 2
            continue
        out.extend(ch.encode())
        i += 1
    return out.decode("utf-8", errors="replace")


def _strip_prefix(path: str) -> str | None:
    path = unquote_path(path.split("\t")[0].rstrip() if not path.startswith('"') else path.rstrip())
    if path == "/dev/null":
        return None
    if path[:2] in ("a/", "b/"):
        return path[2:]
    return path


def _git_line_paths(rest: str) -> tuple[str | None, str | None]:
    """Paths from ``diff --git a/X b/Y``; X == Y (the usual case) is found even when the path holds " b/"."""
    if rest.startswith('"'):
        parts = re.findall(r'"(?:[^"\\]|\\.)*"|\S+', rest)
        if len(parts) == 2:
            return _strip_prefix(parts[0]), _strip_prefix(parts[1])
    half = (len(rest) - 1) // 2
    if len(rest) % 2 == 1 and rest[half] == " " and rest[:half][2:] == rest[half + 1 :][2:]:
        return _strip_prefix(rest[:half]), _strip_prefix(rest[half + 1 :])
    if " b/" in rest:
        old, new = rest.split(" b/", 1)
        return _strip_prefix(old), new.rstrip()
    return None, None


class _FileBuilder:
    def __init__(self, old_path: str | None, new_path: str | None) -> None:
        self.old_path, self.new_path = old_path, new_path
        self.hunks: list[Hunk] = []
        self.header: list[str] = []
        self.is_binary = self.is_new = self.is_deleted = self.is_rename = False

    def build(self) -> FileDiff:
        is_new = self.is_new or (self.old_path is None and self.new_path is not None)
        is_deleted = self.is_deleted or (self.new_path is None and self.old_path is not None)
        return FileDiff(
            old_path=None if is_new else self.old_path,
            new_path=None if is_deleted else self.new_path,
            hunks=tuple(self.hunks),
            is_binary=self.is_binary,
            is_new=is_new,
            is_deleted=is_deleted,
            is_rename=self.is_rename,
            header=tuple(self.header),
        )


def _read_hunk(lines: Sequence[str], start: int, match: re.Match[str]) -> tuple[Hunk, int]:
    """Read the hunk whose header matched at ``lines[start]``; returns it and the index after it."""
    old_start, new_start = int(match[1]), int(match[3])
    old_len = 1 if match[2] is None else int(match[2])
    new_len = 1 if match[4] is None else int(match[4])
    old_left, new_left, body, i = old_len, new_len, [], start + 1
    while i < len(lines) and (old_left > 0 or new_left > 0 or lines[i].startswith("\\")):
        line = lines[i]
        kind = line[:1]
        if line == "":  # some tools strip the single space of an empty context line
            line, kind = " ", " "
        if kind == " ":
            old_left, new_left = old_left - 1, new_left - 1
        elif kind == "-":
            old_left -= 1
        elif kind == "+":
            new_left -= 1
        elif kind != "\\":
            break
        body.append(line)
        i += 1
    return Hunk(old_start, old_len, new_start, new_len, tuple(body), match[5].strip()), i


def parse_diff(text: str) -> list[FileDiff]:
    """Parse a git (or plain ``---``/``+++``) unified diff into files and hunks. Prose between files is skipped.

    Lines are split at ``\\n`` only: a hunk line keeps a ``\\r`` that belongs to its file's content (a CRLF
    file), so the hunks carry the file's exact bytes; header lines are read without a trailing ``\\r``.
    """
    lines = text.split("\n")
    files: list[_FileBuilder] = []
    current: _FileBuilder | None = None
    i = 0
    while i < len(lines):
        line = lines[i].removesuffix("\r")
        hunk_match = _HUNK_RE.match(line)
        if line.startswith("diff --git "):
            current = _FileBuilder(*_git_line_paths(line[len("diff --git ") :]))
            files.append(current)
        elif hunk_match and current is not None:
            hunk, i = _read_hunk(lines, i, hunk_match)
            current.hunks.append(hunk)
            continue
        elif line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            old, new = _strip_prefix(line[4:]), _strip_prefix(lines[i + 1][4:].removesuffix("\r"))
            if current is None or current.hunks or current.is_binary:
                current = _FileBuilder(old, new)
                files.append(current)
            current.old_path, current.new_path = old, new
            i += 2
            continue
        elif current is not None and not current.hunks:
            _read_extended_header(current, line)
        i += 1
    return [builder.build() for builder in files]


def _read_extended_header(current: _FileBuilder, line: str) -> None:
    if line:
        current.header.append(line)
    if line.startswith("new file mode"):
        current.is_new = True
    elif line.startswith("deleted file mode"):
        current.is_deleted = True
    elif line.startswith("rename from "):
        current.is_rename, current.old_path = True, unquote_path(line[len("rename from ") :])
    elif line.startswith("rename to "):
        current.is_rename, current.new_path = True, unquote_path(line[len("rename to ") :])
    elif line.startswith(("Binary files ", "GIT binary patch")):
        current.is_binary = True


# --- questions reviewers and reporters ask -------------------------------------------------------------------------


def _as_files(diff: str | Sequence[FileDiff]) -> Sequence[FileDiff]:
    return parse_diff(diff) if isinstance(diff, str) else diff


def new_side_lines(diff: str | Sequence[FileDiff]) -> dict[str, set[int]]:
    """Lines of each file that GitHub accepts for a review comment on side RIGHT: added and context lines in hunks."""
    result: dict[str, set[int]] = {}
    for file in _as_files(diff):
        if file.new_path is None or file.is_binary:
            continue
        lines = result.setdefault(file.new_path, set())
        for hunk in file.hunks:
            lines.update(hunk.new_range)
    return result


def hunk_range_ok(diff: str | Sequence[FileDiff], path: str, start_line: int | None, line: int) -> bool:
    """True when lines ``start_line``..``line`` (or just ``line``) all lie inside one hunk on the new side."""
    first = line if start_line is None else start_line
    if first > line or first < 1:
        return False
    for file in _as_files(diff):
        if file.new_path != path or file.is_binary:
            continue
        for hunk in file.hunks:
            if first in hunk.new_range and line in hunk.new_range:
                return True
    return False


def changed_paths(diff: str | Sequence[FileDiff]) -> list[str]:
    """Every path the diff touches (new path, or old path for a deletion), in diff order."""
    return [file.path for file in _as_files(diff) if file.path]


# --- writing -----------------------------------------------------------------------------------------------------


def _quote(path: str) -> str:
    if any(ch in path for ch in '"\\\t\n') or not path.isprintable():
        escaped = path.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t").replace("\n", "\\n")
        return f'"{escaped}"'
    return path


def _range(start: int, length: int) -> str:
    """git's hunk range: ``start`` alone for one line; an empty range starts at the line before it."""
    if length == 1:
        return str(start + 1)
    if length == 0:
        return f"{start},0"
    return f"{start + 1},{length}"


def _body_lines(prefix: str, lines: Iterable[str]) -> list[str]:
    out = []
    for line in lines:
        if line.endswith("\n"):
            out.append(prefix + line[:-1])
        else:
            out.extend((prefix + line, NO_NEWLINE))
    return out


def make_patch(path: str, before: str | None, after: str | None, *, context: int = 3) -> str:
    """A git-style unified diff turning ``before`` into ``after`` (``None``: the file does not exist on that side).

    Returns ``""`` when nothing changes. The result always ends with a newline and is accepted by ``git apply``.
    """
    if before == after:
        return ""
    a_lines = split_lines(before or "")
    b_lines = split_lines(after or "")
    a_name, b_name = _quote(f"a/{path}"), _quote(f"b/{path}")
    out = [f"diff --git {a_name} {b_name}"]
    if before is None:
        out.append("new file mode 100644")
    elif after is None:
        out.append("deleted file mode 100644")
    if a_lines or b_lines:
        out.append(f"--- {'/dev/null' if before is None else a_name}")
        out.append(f"+++ {'/dev/null' if after is None else b_name}")
    matcher = difflib.SequenceMatcher(None, a_lines, b_lines, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{_range(i1, i2 - i1)} +{_range(j1, j2 - j1)} @@")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                out.extend(_body_lines(" ", a_lines[a1:a2]))
                continue
            out.extend(_body_lines("-", a_lines[a1:a2]))
            out.extend(_body_lines("+", b_lines[b1:b2]))
    return "\n".join(out) + "\n"


def format_diff(files: Sequence[FileDiff]) -> str:
    """Render parsed files back into diff text (headers as they were read, hunks from their fields)."""
    out: list[str] = []
    for file in files:
        a_name = _quote(f"a/{file.old_path or file.path}")
        b_name = _quote(f"b/{file.new_path or file.path}")
        out.append(f"diff --git {a_name} {b_name}")
        out.extend(line for line in file.header if not line.startswith(("---", "+++")))
        if file.hunks:
            out.append(f"--- {'/dev/null' if file.old_path is None else a_name}")
            out.append(f"+++ {'/dev/null' if file.new_path is None else b_name}")
        for hunk in file.hunks:
            old_range = str(hunk.old_start) if hunk.old_len == 1 else f"{hunk.old_start},{hunk.old_len}"
            new_range = str(hunk.new_start) if hunk.new_len == 1 else f"{hunk.new_start},{hunk.new_len}"
            section = f" {hunk.section}" if hunk.section else ""
            out.append(f"@@ -{old_range} +{new_range} @@{section}")
            out.extend(hunk.lines)
    return "\n".join(out) + "\n" if out else ""


def with_context(hunk: Hunk, context: int) -> list[Hunk]:
    """Re-cut one hunk to at most ``context`` lines of context around its changes (splitting it where needed)."""
    rows: list[tuple[str, int, int]] = []  # (line, old_no, new_no) before the line is consumed
    # an empty side's start names the line before it; count from the line the hunk really starts at
    old_no, new_no = hunk.old_start + (hunk.old_len == 0), hunk.new_start + (hunk.new_len == 0)
    for line in hunk.lines:
        rows.append((line, old_no, new_no))
        if line[:1] in (" ", "-"):
            old_no += 1
        if line[:1] in (" ", "+"):
            new_no += 1
    changed = [i for i, (line, _, _) in enumerate(rows) if line[:1] in ("+", "-")]
    if not changed:
        return []
    keep: set[int] = set()
    for i in changed:
        keep.update(range(max(0, i - context), min(len(rows), i + context + 1)))
    for i, (line, _, _) in enumerate(rows):  # a "\ No newline" marker stays with the line it follows
        if line.startswith("\\") and i - 1 in keep:
            keep.add(i)
    groups: list[list[int]] = [[]]
    for i in range(len(rows)):
        if i in keep:
            groups[-1].append(i)
        elif groups[-1]:
            groups.append([])
    # git's section line names the function where the original hunk starts; only the first piece starts there
    return [_sub_hunk(rows, group, hunk.section if n == 0 else "") for n, group in enumerate(g for g in groups if g)]


def _sub_hunk(rows: Sequence[tuple[str, int, int]], group: Sequence[int], section: str) -> Hunk:
    lines = tuple(rows[i][0] for i in group)
    old_len = sum(1 for line in lines if line[:1] in (" ", "-"))
    new_len = sum(1 for line in lines if line[:1] in (" ", "+"))
    old_start, new_start = rows[group[0]][1], rows[group[0]][2]
    # git writes an empty side's start as the line before it
    return Hunk(old_start - (old_len == 0), old_len, new_start - (new_len == 0), new_len, lines, section)


def reduce_context(diff: str | Sequence[FileDiff], context: int) -> str:
    """The same diff with at most ``context`` lines of context around each change (used to fit a prompt)."""
    files = []
    for file in _as_files(diff):
        hunks = tuple(h for hunk in file.hunks for h in with_context(hunk, context))
        files.append(replace(file, hunks=hunks))
    return format_diff(files)
