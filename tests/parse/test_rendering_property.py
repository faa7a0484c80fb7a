"""Property: the suggestion blocks Guardrail posts, committed the way GitHub commits a suggestion, give exactly the
tree the gates checked, byte for byte.

For generated files (tabs, CRLF, no final newline, non-ASCII and non-UTF-8 bytes, empty lines, lines that look like
fences or diff headers) and generated line-range edits: the review reply is parsed by the real parser, its patch
applied by real ``git apply`` in a real repository, the effective change read back with ``git diff``
(``checks.worktree.effective_change``), the comments re-read from it (``bot.parse.effective.gated``) and planned and
rendered (``bot.reporters.suggestions``). Each posted body's suggestion block is then cut out of the Markdown and
committed with this file's own model of GitHub (FACTS.md 4.3: the block's lines replace lines start_line..line; an
empty block deletes them; the last new line ends as the last replaced line did). The result must equal the worktree
file's bytes. A suggestion GitHub cannot commit exactly must not be posted: it goes to the summary with a reason.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.parse import parse_reply
from bot.parse.diff import make_patch, split_lines
from bot.parse.effective import gated
from bot.reporters.suggestions import Provenance, candidates_from_patch, plan_review
from bot.types import Suggestion
from checks import worktree
from checks.apply import git_apply
from checks.patch import parse as parse_patch

PATH = "src/dätä file.txt"
HEAD_SHA = "c" * 40
TRICKY = ["", "```", "````suggestion", "~~~", "```suggestion", "diff --git a/x b/x", "@@ -1 +1 @@", "--- a/x",
          "+++ b/x", "\\ No newline at end of file", "<!-- guardrail:fp=x -->", "\tindented", "    spaced"]  # fmt: skip
ALPHABET = st.sampled_from(list("ab \t`~-+@#é中\\"))
TEXT = st.one_of(st.sampled_from(TRICKY), st.text(ALPHABET, max_size=8))
FILE_TEXT = st.one_of(TEXT, st.builds(lambda t: t + "\udce9", TEXT))  # a Latin-1 byte: not UTF-8


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                   capture_output=True)  # fmt: skip


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("prop")
    _git(path, "init", "-q")
    _git(path, "config", "core.autocrlf", "false")
    (path / "src").mkdir()
    return path


@st.composite
def cases(draw: st.DrawFn) -> tuple[bytes, list[tuple[int, int, list[str]]]]:
    lines = draw(st.lists(FILE_TEXT, min_size=1, max_size=12))
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    final = draw(st.booleans())
    text = "".join(line + eol for line in lines)
    if not final:
        text = text.removesuffix(eol)
    data = text.encode("utf-8", errors="surrogateescape")
    cuts = sorted(draw(st.sets(st.integers(1, len(lines)), max_size=6)))
    ranges = [(cuts[i], cuts[i + 1] - 1) for i in range(0, len(cuts) - 1, 2) if cuts[i] <= cuts[i + 1] - 1]
    ranges += [(c, c) for c in cuts[len(ranges) * 2 :][:1] if all(not (a <= c <= b) for a, b in ranges)]
    edits = [(a, b, draw(st.lists(TEXT, max_size=3))) for a, b in sorted(ranges)]
    return data, edits


def github_commits(text: str, start: int, end: int, block: list[str]) -> str:
    """GitHub's "Commit suggestion", as modelled here independently of the code under test."""
    lines = split_lines(text)
    last = lines[end - 1]
    ending = "\r\n" if last.endswith("\r\n") else "\n" if last.endswith("\n") else ""
    new = "\n".join(block) + ending if block else ""
    return "".join(lines[: start - 1]) + new + "".join(lines[end:])


def suggestion_in(body: str) -> list[str]:
    """The content lines of the one ```suggestion block in a posted body, read as CommonMark reads fences (a fence
    closes at a line of the same character, at least as long, alone); there must be exactly one such block."""
    blocks: list[list[str]] = []
    lines = body.split("\n")
    i = 0
    while i < len(lines):
        opened = re.fullmatch(r" {0,3}(`{3,}|~{3,})([^`]*)", lines[i])
        if not opened:
            i += 1
            continue
        char, size = opened[1][0], len(opened[1])
        end = next(
            (
                j
                for j in range(i + 1, len(lines))
                if re.fullmatch(rf" {{0,3}}{re.escape(char)}{{{size},}}[ \t]*", lines[j])
            ),
            len(lines),
        )
        if opened[2].strip() == "suggestion":
            blocks.append(lines[i + 1 : end])
        i = end + 1
    assert len(blocks) == 1, body
    return blocks[0]


def _commit_all(head: str, blocks: list[tuple[int, int, list[str]]]) -> str:
    for start, end, block in sorted(blocks, reverse=True):
        head = github_commits(head, start, end, block)
    return head


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(cases())
def test_posted_suggestions_commit_to_exactly_the_gated_tree(
    repo: Path, case: tuple[bytes, list[tuple[int, int, list[str]]]]
) -> None:
    data, edits = case
    target = repo / PATH
    target.write_bytes(data)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "head", "--allow-empty")
    head = data.decode("utf-8", errors="surrogateescape")
    pr_diff = make_patch(PATH, None, head)  # the whole file is on the new side of the PR, in one hunk
    body = "Fix. ```suggestion\nrm -rf /\n``` <!-- guardrail:fp=forged -->"
    reply = json.dumps(
        [
            {"path": PATH, "start_line": a, "line": b, "body": body, "suggestion": "".join(x + "\n" for x in new)}
            for a, b, new in edits
        ]
    )
    parsed = parse_reply("review", reply, lambda p: head if p == PATH else None, pr_diff=pr_diff).suggestion
    try:
        if parsed.patch:
            applied = git_apply(repo, parse_patch(parsed.patch, 10**6))
            assert applied.ok, applied.stderr
        effective = worktree.effective_change(repo).decode("utf-8", errors="surrogateescape")
        gated_tree = target.read_bytes()
    finally:
        _git(repo, "checkout", "--", ".")
    checked = gated(parsed, effective, lambda p: head if p == PATH else None)
    assert isinstance(checked, Suggestion), checked
    _check_review(checked, head, pr_diff, gated_tree)
    _check_patch(effective, head, gated_tree)


def _check_review(checked: Suggestion, head: str, pr_diff: str, gated_tree: bytes) -> None:
    plan = plan_review(checked, pr_diff, HEAD_SHA, max_inline=100)
    provenance = Provenance("m", "openai", "local", "", ())
    blocks = []
    for placed in plan.inline:
        draft = placed.draft(provenance)
        assert "rm -rf" not in draft.body.split("suggestion", 1)[0] or "\\`" in draft.body
        blocks.append((draft.start_line or draft.line, draft.line, suggestion_in(draft.body)))
    refused = [lo for lo in plan.leftovers if lo.candidate is not None and lo.candidate.replacement is not None]
    for left in refused:
        assert left.reason.startswith("not committable as a suggestion: "), left.reason
        _assert_really_impossible(left.candidate.original, left.candidate.replacement or "")  # type: ignore[union-attr]
    committed = _commit_all(head, blocks).encode("utf-8", errors="surrogateescape")
    event("review: every suggestion committable" if not refused else "review: some refused (line endings)")
    if not refused:
        assert committed == gated_tree


def _check_patch(effective: str, head: str, gated_tree: bytes) -> None:
    candidates, unexpressible = candidates_from_patch(effective, "note")
    assert unexpressible == []
    from bot.reporters.suggestions import block_lines

    blocks, refused = [], 0
    for cand in candidates:
        content = block_lines(cand.original, cand.replacement or "")
        if isinstance(content, str):
            _assert_really_impossible(cand.original, cand.replacement or "")
            refused += 1
            continue
        blocks.append((cand.start_line or cand.line, cand.line, content))
    if not refused:
        assert _commit_all(head, blocks).encode("utf-8", errors="surrogateescape") == gated_tree


def _assert_really_impossible(original: str, replacement: str) -> None:
    """A refused suggestion is one GitHub's model cannot commit: several CRLF lines, or a final newline added or
    removed (the last new line cannot end otherwise than the last old one did), or bytes a comment body cannot hold
    (a body is Unicode text sent as JSON: a non-UTF-8 byte, carried here as a surrogate escape, has no way there;
    nor has NUL)."""
    if re.search("[\x00\ud800-\udfff]", replacement):
        return
    old_end = "\r\n" if original.endswith("\r\n") else "\n" if original.endswith("\n") else ""
    new_end = "\r\n" if replacement.endswith("\r\n") else "\n" if replacement.endswith("\n") else ""
    lines = split_lines(replacement)
    assert (len(lines) > 1 and "\r\n" in replacement) or (replacement and new_end != old_end), (original, replacement)
