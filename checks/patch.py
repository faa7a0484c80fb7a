"""Reading an untrusted patch's headers before git sees it: size, binary content, and every path it names.

Only the headers matter here (``diff --git``, ``---``/``+++``, ``rename from/to``, ``copy from/to``, mode lines);
the hunks are git's business. Paths are kept both as written (``raw_paths``, for the paths gate: ``../``,
absolute paths) and with the ``a/``/``b/`` prefix stripped the way ``git apply -p<strip>`` will strip them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.parse.diff import unquote_path
from bot.types import Finding

DEV_NULL = "/dev/null"
_MODE_LINE = re.compile(r"^(old mode|new mode|new file mode|deleted file mode) ([0-7]{6})\s*$")
_INDEX_MODE = re.compile(r"^index [0-9a-f]+\.\.[0-9a-f]+ ([0-7]{6})\s*$")  # the mode of an in-place change
_PATH_LINE = re.compile(r"^(rename from|rename to|copy from|copy to) (.+)$")


class PatchRejected(Exception):
    """The patch text is unacceptable before any git command runs: empty, too big, binary, or not a diff."""

    def __init__(self, message: str, findings: tuple[Finding, ...] = ()) -> None:
        super().__init__(message)
        self.findings = findings


@dataclass(frozen=True)
class PatchFile:
    """One file of the patch. ``old_path``/``new_path`` are stripped; None stands for ``/dev/null``."""

    old_path: str | None
    new_path: str | None
    raw_paths: tuple[str, ...]  # every path as written, prefixes and all
    modes: tuple[str, ...]  # every mode the headers name (100644, 120000, 160000...)

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or ""


@dataclass
class _FileHeaders:
    old_path: str | None = None
    new_path: str | None = None
    raw_paths: list[str] = field(default_factory=list)  # every path as written, prefixes and all
    modes: list[str] = field(default_factory=list)  # every mode the headers name (100644, 120000, 160000...)
    git_names: list[str] = field(default_factory=list)  # the two names of `diff --git`, when there was one
    moved: dict[str, str] = field(default_factory=dict)  # "rename from"/"rename to"/"copy from"/"copy to"
    has_file_header: bool = False  # saw `---`/`+++`
    deleted_file: bool = False
    new_file: bool = False


@dataclass(frozen=True)
class ParsedPatch:
    text: str
    files: tuple[PatchFile, ...]
    strip: int  # 1 when the paths carry a/ b/ prefixes (git's default), 0 when they do not

    def touched(self) -> list[str]:
        """Stripped paths of the files that exist after the patch (not deleted)."""
        return [f.new_path for f in self.files if f.new_path is not None]


def _path_text(rest: str) -> str:
    rest = rest.rstrip("\r\n")
    if rest.startswith('"'):
        return unquote_path(rest.rstrip())
    return rest.split("\t")[0].rstrip()


def _strip(path: str, level: int) -> str | None:
    if path == DEV_NULL:
        return None
    parts = path.split("/")
    return "/".join(parts[level:]) if level else path


def check_size_and_binary(text: str, max_bytes: int) -> None:
    """Reject what must never reach git: an empty or oversized patch, or binary content."""
    size = len(text.encode("utf-8", errors="surrogateescape"))
    if size > max_bytes:
        raise PatchRejected(
            f"the patch is {size} bytes, over the limit of {max_bytes} (gates.max_patch_bytes); send a smaller change"
        )
    if not text.strip():
        raise PatchRejected("the patch is empty")
    if "\0" in text:
        raise PatchRejected("the patch contains NUL bytes: binary patches are not accepted")
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if line.startswith("GIT binary patch") or (line.startswith("Binary files ") and line.endswith(" differ")):
            raise PatchRejected(f"binary patches are not accepted ({line.strip()!r})")


def _split_git_header(rest: str) -> list[str]:
    # `diff --git a/X b/Y`: the usual case X == Y is split in the middle, so a path holding " b/" is still found.
    rest = rest.rstrip("\r\n")
    if rest.startswith('"'):
        return [unquote_path(p) for p in re.findall(r'"(?:[^"\\]|\\.)*"|\S+', rest)]
    half = (len(rest) - 1) // 2
    if len(rest) % 2 == 1 and rest[half] == " " and rest[2:half] == rest[half + 3 :]:
        return [rest[:half], rest[half + 1 :]]
    if " b/" in rest:
        old, new = rest.split(" b/", 1)
        return [old, "b/" + new]
    return rest.split(" ")


def _header_line(current: _FileHeaders, line: str) -> None:
    if match := _MODE_LINE.match(line):
        current.modes.append(match[2])
        current.deleted_file |= match[1] == "deleted file mode"
        current.new_file |= match[1] == "new file mode"
    elif match := _INDEX_MODE.match(line):
        current.modes.append(match[1])
    elif match := _PATH_LINE.match(line):
        path = _path_text(match[2])
        current.moved[match[1]] = path
        current.raw_paths.append(path)


def _scan(lines: list[str]) -> list[_FileHeaders]:
    files: list[_FileHeaders] = []
    current: _FileHeaders | None = None
    in_hunks = False
    for i, line in enumerate(lines):
        if line.startswith("diff --git "):
            current = _FileHeaders(git_names=_split_git_header(line[len("diff --git ") :]))
            current.raw_paths.extend(current.git_names)
            files.append(current)
            in_hunks = False
        elif line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            # A removed line "-- x" would also read "--- x"; a real header is followed by "+++" and then a hunk.
            after = lines[i + 2] if i + 2 < len(lines) else ""
            if after.strip() and not after.startswith("@@"):
                continue
            if current is None or in_hunks or current.has_file_header:
                current = _FileHeaders()
                files.append(current)
            old, new = _path_text(line[4:]), _path_text(lines[i + 1][4:])
            current.raw_paths.extend([old, new])
            current.old_path, current.new_path, current.has_file_header = old, new, True
            in_hunks = True
        elif line.startswith("@@"):
            in_hunks = True
        elif current is not None and not in_hunks:
            _header_line(current, line)
    return files


def _strip_level(files: list[_FileHeaders]) -> int:
    if any(f.git_names for f in files):
        return 1
    sides = [(f.old_path, "a/") for f in files] + [(f.new_path, "b/") for f in files]
    named = [(p, prefix) for p, prefix in sides if p is not None and p != DEV_NULL]
    return 1 if named and all(p.startswith(prefix) for p, prefix in named) else 0


def _finish(change: _FileHeaders, strip: int) -> PatchFile:
    if change.has_file_header:
        change.old_path = _strip(change.old_path or DEV_NULL, strip)
        change.new_path = _strip(change.new_path or DEV_NULL, strip)
    else:  # header-only change (mode, rename, copy, empty file): names from `diff --git` and rename/copy lines
        names = [_strip(n, strip) for n in change.git_names] or [None]
        change.old_path = change.moved.get("rename from") or change.moved.get("copy from") or names[0]
        change.new_path = change.moved.get("rename to") or change.moved.get("copy to") or names[-1]
    if change.deleted_file:
        change.new_path = None
    if change.new_file:
        change.old_path = None
    return PatchFile(change.old_path, change.new_path, tuple(change.raw_paths), tuple(change.modes))


def parse(text: str, max_bytes: int) -> ParsedPatch:
    """Check the text (size, binary) and read its file headers; PatchRejected when it is not a usable diff."""
    check_size_and_binary(text, max_bytes)
    if not text.endswith("\n"):
        text += "\n"  # models often drop the final newline; git calls that a corrupt patch
    files = _scan(text.split("\n"))  # not splitlines(): a form feed inside a source line is not a line break
    if not files:
        raise PatchRejected("not a unified diff: no `diff --git` or `---`/`+++` file header found")
    strip = _strip_level(files)
    return ParsedPatch(text=text, files=tuple(_finish(change, strip) for change in files), strip=strip)
