"""Suggestion blocks, fingerprints, the inline plan and the 65,536 cap: what a reviewer sees on the PR."""

from __future__ import annotations

from dataclasses import replace

from markdown_it import MarkdownIt

from bot.parse.diff import make_patch
from bot.reporters.evidence import evidence_lines
from bot.reporters.markers import MAX_COMMENT_CHARS, cap, fingerprint, fingerprints_in, is_review_for, is_summary
from bot.reporters.suggestions import (
    block_lines,
    candidates_from_patch,
    commit_suggestion,
    fence_for,
    leftover_markdown,
    neutralise,
    plan_review,
    suggestion_block,
)
from bot.types import Finding, GateResult, PostedComment, ReviewComment, Suggestion

HEAD = "b" * 40
OLD = "".join(f"line {i}\n" for i in range(1, 21))


def _pr_diff(changed: dict[int, str]) -> str:
    """The PR's diff: lines of a 20-line file changed at the head (so lines near them are on the new side)."""
    new = "".join(f"{changed.get(i, f'line {i}')}\n" for i in range(1, 21))
    return make_patch("app.py", OLD, new)


def _block(original: str, replacement: str) -> str:
    content = block_lines(original, replacement)
    assert isinstance(content, list), content
    return suggestion_block(content)


def test_single_line_suggestion_block() -> None:
    assert _block("x = 0\n", "x = 1\n") == "```suggestion\nx = 1\n```"


def test_multi_line_suggestion_block_keeps_every_line() -> None:
    assert _block("a = 0\n", "a = 1\nb = 2\n") == "```suggestion\na = 1\nb = 2\n```"


def test_nested_backticks_get_a_longer_fence() -> None:
    replacement = 'doc = """\n```python\nx = 1\n```\n"""\n'
    block = _block("doc = None\n", replacement)
    assert block.startswith("````suggestion\n") and block.endswith("\n````")
    assert fence_for("a ````` b") == "``````"


def test_empty_replacement_deletes_the_lines_and_one_empty_line_stays_one_empty_line() -> None:
    assert _block("x = 1\n", "") == "```suggestion\n```"
    assert _block("x = 1\n", "\n") == "```suggestion\n\n```"  # one empty line, not a deletion
    assert _block("x = 1\n", "y\n\n") == "```suggestion\ny\n\n```"  # a trailing empty line is kept
    assert commit_suggestion("a\nx = 1\nb\n", 2, 2, block_lines("x = 1\n", "\n")) == "a\n\nb\n"  # type: ignore[arg-type]
    assert commit_suggestion("a\nx = 1\nb\n", 2, 2, []) == "a\nb\n"


def test_fingerprint_depends_on_path_lines_replacement_and_head() -> None:
    base = fingerprint("a.py", 3, 5, "x\n", HEAD)
    assert base == fingerprint("a.py", 3, 5, "x\n", HEAD)
    others = {
        fingerprint("b.py", 3, 5, "x\n", HEAD),
        fingerprint("a.py", 4, 5, "x\n", HEAD),
        fingerprint("a.py", 3, 5, "y\n", HEAD),
        fingerprint("a.py", 3, 5, "x\n", "c" * 40),
    }
    assert base not in others and len(others) == 4


def test_markers_are_found_again() -> None:
    body = PostedComment(1, "<!-- guardrail:summary -->\n<!-- guardrail:purpose=patch -->\nhello", "my-app[bot]")
    assert is_summary(body, "patch") and not is_summary(body, "review")
    review = PostedComment(2, f"<!-- guardrail:review head={HEAD} -->\n<!-- guardrail:fp={'a' * 64} -->", "x[bot]")
    assert is_review_for(review, HEAD, "review") and not is_review_for(review, "c" * 40, "review")
    # typed by a person, or not at the top (quoted), a marker is not Guardrail's
    assert not is_summary(replace(body, author="mallory"), "patch")
    assert not is_review_for(replace(review, author="mallory"), HEAD, "review")
    assert not is_summary(replace(body, body="> quoted\n" + body.body), "patch")
    review = review.body
    assert fingerprints_in(review) == {"a" * 64}


def test_patch_hunk_becomes_a_multi_line_suggestion_on_head_lines() -> None:
    head = "".join(f"{'changed' if i in (5, 6) else 'line'} {i}\n" for i in range(1, 21))
    fixed = head.replace("changed 5\nchanged 6\n", "fixed 5\nfixed 6\nextra\n")
    candidates, unexpressible = candidates_from_patch(make_patch("app.py", head, fixed), "note")
    assert unexpressible == []
    [cand] = candidates
    assert (cand.path, cand.start_line, cand.line) == ("app.py", 5, 6)
    assert cand.replacement == "fixed 5\nfixed 6\nextra\n"


def test_pure_insertion_is_anchored_on_the_line_before() -> None:
    head = "".join(f"line {i}\n" for i in range(1, 11))
    fixed = head.replace("line 4\n", "line 4\ninserted\n")
    [cand], _ = candidates_from_patch(make_patch("app.py", head, fixed), "note")
    assert (cand.start_line, cand.line, cand.replacement) == (None, 4, "line 4\ninserted\n")


def test_new_file_in_a_patch_goes_to_the_summary_as_a_diff() -> None:
    candidates, unexpressible = candidates_from_patch(make_patch("new.py", None, "x = 1\n"), "note")
    assert candidates == []
    [(text, reason)] = unexpressible
    assert "new.py" in reason and "+x = 1" in text


def test_plan_puts_only_diff_lines_inline_and_lists_the_rest() -> None:
    diff = _pr_diff({5: "changed 5"})  # hunk covers new-side lines 2..8
    comments = (
        ReviewComment("app.py", 5, "fix it", replacement="fixed 5\n"),
        ReviewComment("app.py", 7, "range", start_line=6, replacement="a\nb\n"),
        ReviewComment("app.py", 15, "outside the diff", replacement="z\n"),
        ReviewComment("other.py", 1, "not in the PR at all"),
    )
    plan = plan_review(Suggestion("review", "", comments), diff, HEAD, max_inline=10)
    assert [(p.candidate.start_line, p.candidate.line) for p in plan.inline] == [(None, 5), (6, 7)]
    assert [lo.candidate.path for lo in plan.leftovers if lo.candidate] == ["app.py", "other.py"]
    assert "not inside one hunk" in plan.leftovers[0].reason
    assert "remark without code" in plan.leftovers[1].reason  # only verified code goes inline
    draft = plan.inline[1].draft(None)
    assert (draft.start_line, draft.start_side, draft.line, draft.side) == (6, "RIGHT", 7, "RIGHT")
    assert "```suggestion\na\nb\n```" in draft.body and "guardrail:fp=" in draft.body
    assert plan.inline[0].draft(None).start_line is None


def test_inline_cap_moves_the_rest_to_the_summary() -> None:
    diff = _pr_diff({i: f"changed {i}" for i in range(1, 21)})
    comments = tuple(ReviewComment("app.py", i, f"c{i}", replacement=f"fixed {i}\n") for i in range(1, 21))
    plan = plan_review(Suggestion("review", "", comments), diff, HEAD, max_inline=3)
    assert len(plan.inline) == 3
    assert len(plan.leftovers) == 17
    assert all("cap of 3" in lo.reason for lo in plan.leftovers)


def test_cap_keeps_markers_closes_the_fence_and_says_it_cut() -> None:
    body = "<!-- guardrail:summary -->\n```diff\n" + "+x\n" * 40_000 + "```\n"
    capped = cap(body, MAX_COMMENT_CHARS, "the job summary")
    assert len(capped) <= MAX_COMMENT_CHARS
    assert capped.startswith("<!-- guardrail:summary -->")
    assert "\n```\n" in capped[-200:] and "truncated" in capped[-120:]
    assert cap("short", MAX_COMMENT_CHARS) == "short"


def test_a_patch_hunk_outside_the_pr_diff_is_listed_as_a_diff_block() -> None:
    head = "".join(f"{'changed' if i == 5 else 'line'} {i}\n" for i in range(1, 21))
    fixed = head.replace("changed 5\n", "fixed 5\n").replace("line 15\n", "fixed 15\n")
    patch = make_patch("app.py", head, fixed, context=1)
    plan = plan_review(Suggestion("patch", patch), _pr_diff({5: "changed 5"}), HEAD, max_inline=10)
    assert [(p.candidate.line, p.candidate.replacement) for p in plan.inline] == [(5, "fixed 5\n")]
    [left] = plan.leftovers
    assert left.candidate is not None and left.candidate.span == "app.py:15"
    text = leftover_markdown(plan.leftovers)
    assert "```diff\n" in text and "-line 15\n+fixed 15" in text


def test_crlf_file_one_line_is_committable_with_its_crlf_several_lines_go_to_the_summary() -> None:
    head = "".join(f"line {i}\r\n" for i in range(1, 11))
    one = head.replace("line 5\r\n", "fixed 5\r\n")
    [cand], _ = candidates_from_patch(make_patch("win.py", head, one), "note")
    content = block_lines(cand.original, cand.replacement or "")
    assert content == ["fixed 5"]
    assert commit_suggestion(head, 5, 5, content) == one  # byte for byte, CRLF kept
    two = head.replace("line 5\r\n", "fixed 5\r\nextra\r\n")
    plan = plan_review(Suggestion("patch", make_patch("win.py", head, two)), make_patch("win.py", None, head), HEAD, 9)
    assert plan.inline == ()
    assert "not committable as a suggestion: several lines with CRLF endings" in plan.leftovers[0].reason
    assert "+extra\r" in leftover_markdown(plan.leftovers)  # the summary shows the exact diff instead


def test_a_line_with_a_latin1_byte_or_a_nul_is_not_offered_as_a_suggestion() -> None:
    """A comment body is Unicode text sent as JSON: the byte 0xE9 of a Latin-1 file (a surrogate escape here) or a
    NUL cannot reach the committed file through it, so the committed file would differ from the gated one."""
    head = "".join(f"line {i}\n" for i in range(1, 11)).replace("line 5", "caf\udce9")
    for new in ("caf\udce9 au lait\n", "a\x00b\n"):
        changed = head.replace("caf\udce9\n", new)
        whole = make_patch("latin1.txt", None, head)
        plan = plan_review(Suggestion("patch", make_patch("latin1.txt", head, changed)), whole, HEAD, 9)
        assert plan.inline == ()
        assert plan.leftovers[0].reason.startswith("not committable as a suggestion: the lines hold bytes that are not")
    fine = head.replace("line 4\n", "line four\n")  # the file's other lines may hold such bytes
    plan = plan_review(Suggestion("patch", make_patch("latin1.txt", head, fine)), whole, HEAD, 9)
    assert [p.content for p in plan.inline] == [("line four",)]


def test_adding_a_final_newline_is_not_offered_as_a_suggestion() -> None:
    head = "a\nb"
    assert isinstance(block_lines("b", "b\n"), str)
    assert block_lines("b", "c") == ["c"] and commit_suggestion(head, 2, 2, ["c"]) == "a\nc"


def test_no_fence_survives_in_a_comments_free_text() -> None:
    for text in ("~~~suggestion\nx\n~~~", "  ```suggestion\nx\n```", "> ```suggestion\n> x\n> ```", "- ````suggestion"):
        out = neutralise(text)
        assert "```" not in out.replace("\\`", "") and "~~~" not in out.replace("\\~", "")
        assert out.replace("\\", "") == text  # the words are all still there


def test_a_hostile_test_id_or_file_name_in_the_evidence_stays_inside_its_code_span() -> None:
    """A PR names its own tests (pytest keeps backticks and ``<`` in parametrize ids) and files; the evidence line
    leads the review body, so ``test_x[`<details>`]`` must not open HTML that folds the rest of it away."""
    test = Finding("tests/test_a.py", 0, "test", "tests/test_a.py::test_x[`<details>` @octocat]: failed")
    ruff = Finding("src/``<pre>``.py", 3, "F401", "unused")
    gates = (GateResult("tests", "pass", "", fixed=(test,)), GateResult("ruff", "pass", "", fixed=(ruff,)))
    html = MarkdownIt("commonmark").render(" ".join(evidence_lines(gates)))
    assert "<details" not in html and "<pre" not in html and html.count("<code>") == 2
    assert "<code>tests/test_a.py::test_x[`&lt;details&gt;` @octocat]</code>" in html
