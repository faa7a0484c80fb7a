"""Issue 9's parser rules, each on a small input: damaged replies are refused (and re-asked by the router), edits
keep the file's indentation, paths are read faithfully, and review suggestions land on the lines they name.

Outcome files are compared as bytes, after real ``git apply``.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from bot.errors import ReplyParseError
from bot.parse import parse_reply
from tests.parse.test_reply import BASE, FIXED, HEAD, PR, make_pr

TAB_FILE = (
    "class Store:\n\tdef total(self):\n\t\tt = 0\n\t\tfor item in self.items:\n\t\t\tt = t + item\n\t\treturn t\n"
)
TAB_FIXED = TAB_FILE.replace("\t\t\tt = t + item\n", "\t\t\tt += item\n")


@pytest.fixture
def pr(tmp_path: Path) -> PR:
    return make_pr(tmp_path, {"src/shop.py": BASE}, {"src/shop.py": HEAD})


@pytest.fixture
def tabs(tmp_path: Path) -> PR:
    return make_pr(tmp_path, {"src/tabs.py": TAB_FILE.replace("return t", "return 0")}, {"src/tabs.py": TAB_FILE})


def _bytes(pr: PR, path: str) -> bytes:
    return (pr.repo / path).read_bytes()


FIX = """src/shop.py
```python
<<<<<<< SEARCH
            t = t + item
=======
            t += item
>>>>>>> REPLACE
```
"""
DRAFT = FIX.replace("t += item", "t = t + item + 0")


# --- damaged replies -----------------------------------------------------------------------------------------------


def test_a_reasoning_block_is_dropped_and_its_draft_never_gated(pr: PR) -> None:
    pr.parse_patch(f"<think>\nFirst idea:\n{DRAFT}\nNo, better:\n</think>\n{FIX}")
    assert _bytes(pr, "src/shop.py") == FIXED.encode()


def test_a_closing_tag_alone_drops_what_came_before_it(pr: PR) -> None:
    pr.parse_patch(f"maybe {DRAFT}\n</think>\n\n{FIX}")
    assert _bytes(pr, "src/shop.py") == FIXED.encode()


def test_a_reply_that_is_only_reasoning_is_a_parse_failure(pr: PR) -> None:
    with pytest.raises(ReplyParseError, match="holds only reasoning"):
        parse_reply("patch", f"<think>\n{FIX}\n</think>\n  \n", pr.read, pr_diff=pr.diff)
    with pytest.raises(ReplyParseError, match="holds only reasoning"):
        parse_reply("review", "<think>\nI should look at line 21 and then", pr.read, pr_diff=pr.diff)


STRIP_TAGS = FIX.replace("t += item", 't += item  # "<think>", "</think>", "<reasoning>x</reasoning>"')


def test_reasoning_tags_inside_the_answers_code_are_code_and_kept_byte_for_byte(pr: PR) -> None:
    """A fix that handles reasoning tags (a tag-stripper, a prompt template) is the model's code, not a block."""
    pr.parse_patch(STRIP_TAGS)
    assert (
        _bytes(pr, "src/shop.py")
        == HEAD.replace(
            "            t = t + item\n", '            t += item  # "<think>", "</think>", "<reasoning>x</reasoning>"\n'
        ).encode()
    )


@pytest.mark.parametrize(
    ("opening", "closing"),
    [
        ("<think>", "</think>"),
        ("<THINKING>", "</THINKING>"),
        ('<think type="draft">', "</think>"),
        ("[THINK]", "[/THINK]"),  # Magistral
        ("\u25c1think\u25b7", "\u25c1/think\u25b7"),  # Kimi
        ("<think><reasoning>nested</reasoning>", "</think>"),
    ],
)
def test_every_reasoning_tag_form_drops_its_draft_even_with_an_unclosed_fence_inside(
    pr: PR, opening: str, closing: str
) -> None:
    draft = DRAFT.rstrip("`\n")  # the draft's fence never closes: the model changed its mind mid-code
    pr.parse_patch(f"{opening}\n{draft}\n{closing}\n{FIX}")
    assert _bytes(pr, "src/shop.py") == FIXED.encode()


def test_a_tag_named_in_a_sentence_or_a_json_string_is_text_not_a_reasoning_block(pr: PR) -> None:
    """A bare JSON review saying "the <think> handling" (or "</think>") kept nothing after (or before) it."""
    body = "This strips <think> blocks but not </think> alone."
    comment = {"path": "src/shop.py", "line": 21, "body": body, "suggestion": "            t += item\n"}
    result = parse_reply("review", json.dumps([comment]), pr.read, pr_diff=pr.diff)
    assert [c.body for c in result.suggestion.comments] == [body]
    pr.parse_patch(f"I drop the <think> part here.\n{FIX}")
    assert _bytes(pr, "src/shop.py") == FIXED.encode()


def test_finish_reason_length_refuses_even_a_complete_looking_reply(pr: PR) -> None:
    with pytest.raises(ReplyParseError, match="finish reason `length`"):
        parse_reply("patch", FIX, pr.read, pr_diff=pr.diff, finish_reason="length")


def test_an_unclosed_fence_is_a_parse_failure_not_a_shorter_function(pr: PR) -> None:
    cut = "src/shop.py\n```python\n    def total(self):\n        t = 0\n        for item in self.items:\n"
    with pytest.raises(ReplyParseError, match="is never closed"):
        parse_reply("patch", cut, pr.read, pr_diff=pr.diff)


def test_a_whole_file_edit_cut_short_does_not_delete_the_files_tail(pr: PR) -> None:
    cut = HEAD[: HEAD.index("    print(") + len("    print(greet(")]
    with pytest.raises(ReplyParseError, match=r"whole-file edit of src/shop\.py does not parse as Python"):
        parse_reply("patch", f"src/shop.py\n```python\n{cut}\n```\n", pr.read, pr_diff=pr.diff)


# --- faithful edits ------------------------------------------------------------------------------------------------


def test_search_replace_written_with_spaces_keeps_a_tab_files_tabs(tabs: PR) -> None:
    reply = "src/tabs.py\n```\n<<<<<<< SEARCH\n        for item in self.items:\n            t = t + item\n"
    reply += "=======\n        for item in self.items:\n            t += item\n>>>>>>> REPLACE\n```\n"
    tabs.parse_patch(reply)
    assert _bytes(tabs, "src/tabs.py") == TAB_FIXED.encode()


def test_a_unified_diff_and_a_whole_function_written_with_spaces_keep_tabs(tmp_path: Path) -> None:
    for n, reply in enumerate(
        [
            "```diff\n--- a/src/tabs.py\n+++ b/src/tabs.py\n@@ -4,2 +4,2 @@\n         for item in self.items:\n"
            "-            t = t + item\n+            t += item\n```\n",
            "src/tabs.py\n```python\n    def total(self):\n        t = 0\n        for item in self.items:\n"
            "            t += item\n        return t\n```\n",
        ]
    ):
        tabs = make_pr(tmp_path / str(n), {"src/tabs.py": TAB_FILE + "\n"}, {"src/tabs.py": TAB_FILE})
        tabs.parse_patch(reply)
        assert _bytes(tabs, "src/tabs.py") == TAB_FIXED.encode()


def test_indentation_that_cannot_be_the_files_is_refused_with_the_reason(tabs: PR) -> None:
    reply = "src/tabs.py\n```\n<<<<<<< SEARCH\n\t\t\tt = t + item\n=======\n\t\t\tt += item\n   \t x = 1\n"
    reply += ">>>>>>> REPLACE\n```\n"
    with pytest.raises(ReplyParseError, match="indented with spaces but the file is indented with tabs"):
        parse_reply("patch", reply, tabs.read, pr_diff=tabs.diff)


def test_search_replace_paths_may_hold_spaces_and_non_ascii(tmp_path: Path) -> None:
    files = {"docs/my notes.md": "# Notes\nold line\n", "src/données.py": "VALEUR = 1\n"}
    two = make_pr(tmp_path, {"README.md": "x\n"}, files)
    reply = "docs/my notes.md\n```\n<<<<<<< SEARCH\nold line\n=======\nnew line\n>>>>>>> REPLACE\n```\n\n"
    reply += "src/données.py\n```python\n<<<<<<< SEARCH\nVALEUR = 1\n=======\nVALEUR = 2\n>>>>>>> REPLACE\n```\n"
    two.parse_patch(reply)
    assert _bytes(two, "docs/my notes.md") == b"# Notes\nnew line\n"
    assert _bytes(two, "src/données.py") == b"VALEUR = 2\n"


def test_a_block_without_its_path_line_never_edits_the_previous_blocks_file(tmp_path: Path) -> None:
    two = make_pr(tmp_path, {"README.md": "x\n"}, {"a.py": "A = 1\nB = 2\n", "b.py": "B = 2\n"})
    reply = "a.py\n```\n<<<<<<< SEARCH\nA = 1\n=======\nA = 3\n>>>>>>> REPLACE\n```\n\n"
    reply += "```\n<<<<<<< SEARCH\nB = 2\n=======\nB = 4\n>>>>>>> REPLACE\n```\n"
    with pytest.raises(ReplyParseError, match="block 2 names no file"):
        parse_reply("patch", reply, two.read, pr_diff=two.diff)


def test_a_search_block_that_matches_several_places_is_refused_not_applied_to_the_first(tmp_path: Path) -> None:
    """aider applies a SEARCH to its first match; which one the model meant is a guess, so it is re-asked."""
    code = "def a(s):\n    return s\n\n\ndef b(s):\n    return s\n"
    two = make_pr(tmp_path, {"t.py": code}, {"t.py": code + "\n\ndef c(s):\n    return s\n"})
    reply = "t.py\n```python\n<<<<<<< SEARCH\n    return s\n=======\n    return s + 1\n>>>>>>> REPLACE\n```\n"
    with pytest.raises(ReplyParseError, match=r"SEARCH block 1 for t\.py matches 3 places \(lines 2, 6, 10\)"):
        parse_reply("patch", reply, two.read, pr_diff=two.diff)
    unique = reply.replace("SEARCH\n", "SEARCH\ndef c(s):\n").replace("=======\n", "=======\ndef c(s):\n")
    two.parse_patch(unique)
    assert _bytes(two, "t.py") == (code + "\n\ndef c(s):\n    return s + 1\n").encode()


def test_a_whole_method_whose_name_two_classes_define_is_refused_not_put_in_the_first(tmp_path: Path) -> None:
    code = "class A:\n    def save(self):\n        return 1\n\n\nclass B:\n    def save(self):\n        return 2\n"
    two = make_pr(tmp_path, {"m.py": code}, {"m.py": code + "\n\nX = 1\n"})
    method = "m.py\n```python\n    def save(self):\n        return 3\n```\n"
    with pytest.raises(ReplyParseError, match=r"`save` matches several definitions .* \(lines 2, 7\)"):
        parse_reply("patch", method, two.read, pr_diff=two.diff)
    two.parse_patch("m.py\n```python\nclass B:\n    def save(self):\n        return 3\n```\n")
    assert _bytes(two, "m.py") == (code.replace("return 2", "return 3") + "\n\nX = 1\n").encode()


@pytest.mark.parametrize("named", ["/etc/passwd", "~/.bashrc", "/src/shop.py"])
def test_a_block_naming_an_absolute_path_is_refused_by_name_not_applied_to_the_prs_only_file(
    pr: PR, named: str
) -> None:
    """An absolute path was not read as a path at all, so the block went to the PR's only file."""
    reply = FIX.replace("src/shop.py\n", f"{named}\n", 1)
    with pytest.raises(ReplyParseError, match=f"names '{re.escape(named)}': give a file path relative to the"):
        parse_reply("patch", reply, pr.read, pr_diff=pr.diff)


def test_a_dotfile_path_line_is_read_as_the_blocks_file(tmp_path: Path) -> None:
    """``.gitignore`` was not read as a path, so its block went to the PR's only file."""
    two = make_pr(tmp_path, {".gitignore": "*.pyc\n", "app.py": "A = 1\n"}, {"app.py": "A = 2\n"})
    two.parse_patch(".gitignore\n```\n<<<<<<< SEARCH\n*.pyc\n=======\n*.pyc\n.venv/\n>>>>>>> REPLACE\n```\n")
    assert _bytes(two, ".gitignore") == b"*.pyc\n.venv/\n" and _bytes(two, "app.py") == b"A = 2\n"


def test_a_reply_with_thousands_of_search_blocks_is_refused_before_any_is_searched(pr: PR) -> None:
    """3,000 blocks on a 3,000-line file held the parser for close to a minute (each block searches the file)."""
    block = "<<<<<<< SEARCH\n            t = t + item\n=======\n            t += item\n>>>>>>> REPLACE\n"
    reply = "src/shop.py\n```python\n" + block * 3000 + "```\n"
    with pytest.raises(ReplyParseError, match="holds 3000 SEARCH/REPLACE blocks, more than 200: send a smaller"):
        parse_reply("patch", reply, pr.read, pr_diff=pr.diff)


# --- review suggestions --------------------------------------------------------------------------------------------


def _review_patch(pr: PR, comments: list[dict[str, object]]) -> tuple[str, tuple[str, ...]]:
    result = parse_reply("review", json.dumps(comments), pr.read, pr_diff=pr.diff)
    if result.suggestion.patch:
        pr.apply(result.suggestion.patch)
    return result.suggestion.patch, result.dropped


def test_a_suggestion_of_one_empty_line_is_gated_as_one_empty_line_and_empty_as_a_deletion(pr: PR) -> None:
    _review_patch(pr, [{"path": "src/shop.py", "line": 21, "body": "x", "suggestion": "\n"}])
    assert _bytes(pr, "src/shop.py") == HEAD.replace("            t = t + item\n", "\n").encode()
    subprocess.run(["git", "checkout", "--", "."], cwd=pr.repo, check=True)  # the same checkout, once more
    _review_patch(pr, [{"path": "src/shop.py", "line": 21, "body": "x", "suggestion": ""}])
    assert _bytes(pr, "src/shop.py") == HEAD.replace("            t = t + item\n", "").encode()


def test_a_suggestion_ending_with_an_empty_line_keeps_it(pr: PR) -> None:
    _review_patch(pr, [{"path": "src/shop.py", "line": 21, "body": "x", "suggestion": "            t += item\n\n"}])
    assert _bytes(pr, "src/shop.py") == HEAD.replace("            t = t + item\n", "            t += item\n\n").encode()


def test_a_suggestion_whose_original_lines_are_elsewhere_is_moved_there(pr: PR) -> None:
    comment = {"path": "src/shop.py", "line": 19, "body": "Use +=.", "original": "            t = t + item",
               "suggestion": "            t += item"}  # fmt: skip
    _, dropped = _review_patch(pr, [comment])
    assert dropped == ("src/shop.py:19: moved to src/shop.py:21, where its original lines are",)
    assert _bytes(pr, "src/shop.py") == FIXED.encode()


def test_a_suggestion_whose_original_lines_are_nowhere_in_the_diff_is_dropped_not_posted_over_code(pr: PR) -> None:
    comment = {"path": "src/shop.py", "line": 21, "body": "Use +=.", "original": "            t = t - item",
               "suggestion": "            t += item"}  # fmt: skip
    patch, dropped = _review_patch(pr, [comment])
    assert patch == "" and "original lines are not there nor anywhere in the PR's diff" in dropped[0]


def test_a_review_suggestion_written_with_spaces_takes_the_tab_files_tabs(tabs: PR) -> None:
    result = parse_reply(
        "review",
        json.dumps([{"path": "src/tabs.py", "line": 5, "body": "Use +=.", "suggestion": "            t += item"}]),
        tabs.read,
        pr_diff=tabs.diff,
    )
    tabs.apply(result.suggestion.patch)
    assert _bytes(tabs, "src/tabs.py") == TAB_FIXED.encode()


def test_a_block_comment_in_a_tab_file_keeps_its_one_space(tmp_path: Path) -> None:
    c_file = "int f(void)\n{\n\treturn 0;\n}\n"
    tabs = make_pr(tmp_path, {"f.c": c_file + "\n"}, {"f.c": c_file})
    reply = "f.c\n```c\n<<<<<<< SEARCH\nint f(void)\n=======\n/*\n * Zero.\n */\nint f(void)\n>>>>>>> REPLACE\n```\n"
    tabs.parse_patch(reply)
    assert _bytes(tabs, "f.c") == b"/*\n * Zero.\n */\n" + c_file.encode()


@pytest.mark.parametrize("line", [21.5, "21, 22", "line 21 of 29", [19, 21, 20], "-21"])
def test_a_line_number_that_is_not_one_is_dropped_never_read_as_a_range(pr: PR, line: object) -> None:
    """21.5 was read as lines 5 to 21, and the suggestion replaced 17 lines of code with one."""
    patch, dropped = _review_patch(pr, [{"path": "src/shop.py", "line": line, "body": "x", "suggestion": "t += 1\n"}])
    assert patch == "" and dropped == ("src/shop.py: no line number",)
    assert _bytes(pr, "src/shop.py") == HEAD.encode()


@pytest.mark.parametrize("key", ["side", "start_side"])
def test_a_comment_on_the_base_side_is_dropped_not_put_on_the_heads_line_of_that_number(pr: PR, key: str) -> None:
    comment = {"path": "src/shop.py", "line": 21, key: "LEFT", "body": "x", "suggestion": "            t += item\n"}
    patch, dropped = _review_patch(pr, [comment])
    assert patch == "" and dropped == (
        f"src/shop.py:21: {key} 'LEFT': comments go on the new side (RIGHT) of the diff, whose lines they count",
    )
    assert _bytes(pr, "src/shop.py") == HEAD.encode()
