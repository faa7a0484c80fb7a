"""From a verified Suggestion to inline review comments that GitHub accepts, and what is left for the summary.

GitHub takes a review comment only on lines of the PR's diff, and a multi-line one only within one hunk; anything
else fails the whole review with a 422. So every candidate is checked against the PR's diff (new side) before it
is posted, and what does not fit is listed in the summary comment instead, with the reason. Only code goes inline:
a remark without a replacement has nothing the gates could verify, so it is listed in the summary.

For the ``patch`` purpose, each hunk of the winning patch becomes one committable suggestion: the lines it replaces
in the head file (its changed lines, trimmed of leading and trailing context) and their replacement. A pure insertion
is anchored on the context line before it (or after it). A hunk that cannot be said so (a new file, a deletion
of a file, no context to anchor on, lines outside the PR's diff) goes to the summary as a ```diff block.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.parse.diff import FileDiff, Hunk, format_diff, hunk_range_ok, parse_diff, split_lines
from bot.parse.effective import hunk_changes, hunk_old_lines, region
from bot.reporters.markers import fingerprint, fingerprint_marker
from bot.types import DraftReviewComment, GateResult, Outcome, Suggestion

_BACKTICKS = re.compile(r"`+")
_GATE_MARK = {"pass": "✓", "fail": "✗", "error": "⚠", "skipped": "(skipped)"}


# --- rendering -----------------------------------------------------------------------------------------------------


def fence_for(text: str) -> str:
    """A backtick fence longer than any backtick run inside ``text`` (CommonMark), at least three."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    return "`" * max(3, longest + 1)


_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")  # NUL, and undecodable bytes carried as surrogate escapes


def _ending(line: str) -> str:
    return "\r\n" if line.endswith("\r\n") else "\n" if line.endswith("\n") else ""


def block_lines(original: str, replacement: str) -> list[str] | str:
    """The content lines of a suggestion block that makes GitHub turn ``original`` (the exact text of the lines
    commented on) into ``replacement`` (their exact new text), or the reason no block can.

    GitHub replaces the commented lines with the block's lines (FACTS.md 4.3; an empty block deletes them). How it
    ends the new lines is not documented; Guardrail assumes the least: lines joined by ``\\n``, the last one ending
    as the last replaced line did. A change that needs anything else (several CRLF lines, adding or removing the
    final newline, a bare ``\\r``) is not offered as committable: it goes to the summary as a diff. Nor is text a
    comment body cannot carry: bytes that are not UTF-8 (surrogate escapes here; a JSON body is Unicode text) or NUL.
    """
    if replacement == "":
        return []
    lines = split_lines(replacement)
    content = [line.removesuffix(_ending(line)) for line in lines]
    if any("\r" in line for line in content):
        return "a line holds a carriage return that a suggestion block cannot carry"
    if _NOT_TEXT.search(replacement):
        return "the lines hold bytes that are not UTF-8 text (or a NUL), which a comment body cannot carry"
    last = _ending(split_lines(original)[-1]) if original else "\n"
    if "\n".join(content) + last == replacement:
        return content
    if "\r\n" in replacement and len(content) > 1:
        return "several lines with CRLF endings: GitHub's line endings for a committed suggestion are not documented"
    return "the change adds or removes the final newline of the file, which a suggestion block cannot say"


def commit_suggestion(text: str, start: int, end: int, content: list[str]) -> str:
    """``text`` after GitHub commits a suggestion of ``content`` lines on lines ``start``..``end`` (the model
    :func:`block_lines` renders for; the tests check every rendering against it)."""
    lines = split_lines(text)
    new = "\n".join(content) + _ending(lines[end - 1]) if content else ""
    return "".join(lines[: start - 1]) + new + "".join(lines[end:])


def suggestion_block(content: list[str]) -> str:
    """A committable ```suggestion block holding ``content`` (no lines: it deletes the commented lines)."""
    body = "".join(line + "\n" for line in content)
    fence = fence_for(body)
    return f"{fence}suggestion\n{body}{fence}"


def shown(text: str) -> str:
    """``text`` as a comment can show it: a non-UTF-8 byte (a surrogate escape here) becomes U+FFFD, which a JSON
    body can carry (a lone surrogate is not Unicode text), and NUL becomes U+2400."""
    return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace").replace("\x00", "\u2400")


def code_block(text: str, info: str = "diff") -> str:
    """``text`` in a fenced block longer than any backtick run in it, for reading only (see :func:`shown`)."""
    text = shown(text)
    body = text[:-1] if text.endswith("\n") else text
    fence = fence_for(body)
    return f"{fence}{info}\n{body}\n{fence}"


def code_span(text: str) -> str:
    """``text`` as one inline code span, whatever backticks it holds (a PR's file may be called ``a`<b>`.py``)."""
    text = " ".join(text.split("\n"))
    ticks = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


_FENCE_RUN = re.compile(r"`{3,}|~{3,}")
_TICKS = re.compile(r"(?<!\\)(?:\\\\)*(`+)")  # a backtick run not escaped by a backslash
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_MENTION = re.compile(r"(?<![\w`@/.])@([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:/[A-Za-z0-9_.-]+)?)")


def _outside_code_spans(line: str, make_inert: Callable[[str], str]) -> str:
    """``line`` with ``make_inert`` applied to everything but its code spans (a backtick run closed by one of the same
    length on the same line, CommonMark 6.1). A span on several lines is not recognised: its text is made inert too,
    which only makes it uglier, never live."""
    out, at = "", 0
    runs = list(_TICKS.finditer(line))
    i = 0
    while i < len(runs):
        opening = runs[i]
        close = next((j for j in range(i + 1, len(runs)) if len(runs[j][1]) == len(opening[1])), None)
        if close is None:
            i += 1
            continue
        out += make_inert(line[at : opening.start(1)]) + line[opening.start(1) : runs[close].end(1)]
        at = runs[close].end(1)
        i = close + 1
    return out + make_inert(line[at:])


def _inert(text: str) -> str:
    text = _TAG_START.sub("&lt;", text)
    return _MENTION.sub(lambda m: f"@\u200b{m[1]}", text)


def neutralise(text: str) -> str:
    """A model's free text made inert, so that all it can do is be read.

    * every run of three or more backticks or tildes is backslash-escaped: it cannot open a fence (a ```suggestion
      block of its own would be committable, and it was never gated);
    * outside code spans, every ``<`` that could start an HTML tag, comment or declaration becomes ``&lt;``: no
      ``<details>`` or ``<pre>`` hides the gated block or the provenance line after it, no ``<!--`` forges
      Guardrail's hidden markers, no ``<sub>`` fakes a provenance line ("gates: tests ✓");
    * outside code spans, ``@name`` and ``@org/team`` get a zero-width space after the ``@``: a PR that talks the
      model into mentioning people cannot make Guardrail notify them.
    """
    text = _FENCE_RUN.sub(lambda m: "".join("\\" + ch for ch in m[0]), shown(text))
    return "\n".join(_outside_code_spans(line, _inert) for line in text.split("\n"))


@dataclass(frozen=True)
class Provenance:
    """Who wrote a suggestion and what checked it; every posted comment carries it."""

    model: str
    backend: str
    location: str
    template: str  # "label sha256:<hex>" of the chat template Guardrail rendered; "" when the server rendered it
    gates: tuple[GateResult, ...]
    prompt_sha256: str = ""

    @classmethod
    def of(cls, outcome: Outcome) -> Provenance | None:
        won = outcome.winning_attempt
        if won is None:
            return None
        return cls(won.model, won.backend, won.location, won.template, won.gates, won.prompt_sha256)

    def gates_text(self) -> str:
        return ", ".join(f"{g.name} {_GATE_MARK.get(g.status, g.status)}" for g in self.gates) or "none ran"

    def line(self) -> str:
        template = f", template `{_short_hashes(self.template)}`" if self.template else ""
        prompt = f", prompt sha256 `{self.prompt_sha256[:12]}`" if self.prompt_sha256 else ""
        return (
            f"<sub>Guardrail · written by `{self.model}` ({self.backend}, {self.location}{template}{prompt}) · "
            f"gates: {self.gates_text()}</sub>"
        )


def _short_hashes(text: str) -> str:
    """``sha256:<64 hex>`` shortened to 12 hex digits for a comment (the audit log keeps the whole hash)."""
    return re.sub(r"sha256:([0-9a-f]{12})[0-9a-f]{52}", r"sha256:\1", text)


# --- candidates ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A comment Guardrail would like to put on ``start_line``..``line`` of ``path`` at the PR head."""

    path: str
    line: int
    text: str
    start_line: int | None = None
    replacement: str | None = None  # the exact new text of the lines (line endings included)
    diff: str = ""  # the patch hunk it came from, shown in the summary if it cannot go inline
    original: str = ""  # the exact text of the lines at the head (line endings included)

    @property
    def span(self) -> str:
        first = self.start_line or self.line
        return f"{self.path}:{first}" if first == self.line else f"{self.path}:{first}-{self.line}"


def _hunk_text(file: FileDiff, hunk: Hunk) -> str:
    return format_diff([FileDiff(file.old_path, file.new_path, (hunk,), is_new=file.is_new)])


def _hunk_candidate(file: FileDiff, hunk: Hunk, note: str) -> Candidate | str:
    """One hunk of the effective change as a replacement of head-file lines, or the reason it cannot be one."""
    changes = hunk_changes(hunk)
    if not changes:
        return "the hunk changes nothing"
    first_no, old_lines = hunk_old_lines(hunk)
    start, end = changes[0].start, max(changes[-1].end, changes[0].start - 1)
    if end < start:  # a pure insertion: anchor it on the line before it, or the line after it
        if start - 1 >= first_no:
            start -= 1
        elif start < first_no + len(old_lines):
            end = start
        else:
            return "an insertion with no line around it to attach a suggestion to"
    original, replacement = region(old_lines, changes, start, end, first=first_no)
    return Candidate(
        path=file.path,
        line=end,
        start_line=start if start != end else None,
        text=note,
        replacement=replacement,
        diff=_hunk_text(file, hunk),
        original=original,
    )


def candidates_from_patch(patch: str, note: str) -> tuple[list[Candidate], list[tuple[str, str]]]:
    """The patch's hunks as candidates, and (diff text, reason) for those that cannot be suggestions at all."""
    candidates: list[Candidate] = []
    unexpressible: list[tuple[str, str]] = []
    for file in parse_diff(patch):
        if file.is_binary or file.is_new or file.is_deleted or file.is_rename:
            what = "binary" if file.is_binary else "new" if file.is_new else "deleted" if file.is_deleted else "renamed"
            text = format_diff([file]) if not file.is_binary else f"(binary change to {file.path})\n"
            unexpressible.append((text, f"{file.path}: a {what} file cannot be a suggestion"))
            continue
        for hunk in file.hunks:
            made = _hunk_candidate(file, hunk, note)
            if isinstance(made, str):
                unexpressible.append((_hunk_text(file, hunk), f"{file.path}: {made}"))
            else:
                candidates.append(made)
    return candidates, unexpressible


def candidates_of(suggestion: Suggestion) -> tuple[list[Candidate], list[tuple[str, str]]]:
    if suggestion.purpose == "patch":
        return candidates_from_patch(suggestion.patch, "Guardrail's verified patch changes these lines:")
    comments = [
        Candidate(c.path, c.line, c.body, start_line=c.start_line, replacement=c.replacement, original=c.original or "")
        for c in suggestion.comments
    ]
    return comments, []


# --- the plan ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Placed:
    """A candidate that goes inline, with its fingerprint and its suggestion block's lines."""

    candidate: Candidate
    fingerprint: str
    content: tuple[str, ...] | None = None  # the block's lines (from block_lines); None: no block

    def body(self, provenance: Provenance | None) -> str:
        """The comment as posted: marker, the model's words made inert, the one gated block, provenance."""
        parts = [fingerprint_marker(self.fingerprint), neutralise(self.candidate.text.strip())]
        if self.content is not None:
            parts.append(suggestion_block(list(self.content)))
        if provenance is not None:
            parts.append(provenance.line())
        return "\n\n".join(p for p in parts if p)

    def draft(self, provenance: Provenance | None) -> DraftReviewComment:
        c = self.candidate
        multi = c.start_line is not None and c.start_line < c.line
        return DraftReviewComment(
            path=c.path,
            line=c.line,
            body=self.body(provenance),
            side="RIGHT",
            start_line=c.start_line if multi else None,
            start_side="RIGHT" if multi else None,
        )


@dataclass(frozen=True)
class Leftover:
    """Something verified that is not posted inline, and why; listed in the summary."""

    reason: str
    candidate: Candidate | None = None
    diff: str = ""


@dataclass(frozen=True)
class ReviewPlan:
    head_sha: str
    inline: tuple[Placed, ...] = ()
    leftovers: tuple[Leftover, ...] = ()

    def without_inline(self, reason: str) -> ReviewPlan:
        """The same plan with every inline comment moved to the leftovers (after GitHub refused the review)."""
        moved = tuple(Leftover(reason, p.candidate, p.candidate.diff) for p in self.inline)
        return ReviewPlan(self.head_sha, (), self.leftovers + moved)


def plan_review(suggestion: Suggestion | None, pr_diff: str, head_sha: str, max_inline: int) -> ReviewPlan:
    """Which candidates go inline (inside the PR's diff, up to ``max_inline``) and which go to the summary."""
    if suggestion is None:
        return ReviewPlan(head_sha)
    candidates, unexpressible = candidates_of(suggestion)
    files = parse_diff(pr_diff)
    inline: list[Placed] = []
    leftovers = [Leftover(reason, None, text) for text, reason in unexpressible]
    seen: set[str] = set()
    for cand in candidates:
        fp = fingerprint(cand.path, cand.start_line, cand.line, cand.replacement, head_sha)
        if fp in seen:
            continue
        seen.add(fp)
        if cand.replacement is None:  # only verified code goes inline; a remark has nothing the gates could check
            leftovers.append(Leftover("a remark without code: no gate can verify it, so it is not inline", cand))
        elif not hunk_range_ok(files, cand.path, cand.start_line, cand.line):
            reason = f"{cand.span} is not inside one hunk of the PR's diff, where GitHub accepts comments"
            leftovers.append(Leftover(reason, cand, cand.diff))
        elif isinstance(content := block_lines(cand.original, cand.replacement), str):
            leftovers.append(Leftover(f"not committable as a suggestion: {content}", cand, cand.diff))
        elif len(inline) >= max_inline:
            leftovers.append(Leftover(f"over the cap of {max_inline} inline comments", cand, cand.diff))
        else:
            inline.append(Placed(cand, fp, tuple(content)))
    return ReviewPlan(head_sha, tuple(inline), tuple(leftovers))


def leftover_markdown(leftovers: Sequence[Leftover]) -> str:
    """The leftovers as a Markdown list with their suggestion or diff blocks."""
    out: list[str] = []
    for item in leftovers:
        cand = item.candidate
        reason = neutralise(item.reason)
        head = f"- {code_span(cand.span)}: {reason}" if cand else f"- {reason}"
        out.append(head)
        if cand is not None and cand.text.strip() and not item.diff:
            out.append("  " + neutralise(cand.text.strip()).replace("\n", "\n  "))
        if item.diff:
            out.append("\n" + code_block(item.diff, "diff") + "\n")
        elif cand is not None and cand.replacement is not None:
            out.append("\n" + code_block(cand.replacement, "text") + "\n")
    return "\n".join(out)
