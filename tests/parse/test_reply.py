"""Model replies as small models really write them -> patches that real ``git apply`` accepts."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.errors import ReplyParseError
from bot.parse import parse_reply

BASE = '''\
"""A tiny shop."""

import os


def greet(name):
    return "Hi " + name


class Store:
    def __init__(self):
        self.items = []

    def add(self, item):
        self.items.append(item)
        return len(self.items)


def main():
    store = Store()
    store.add(1)
    print(greet(os.environ.get("USER", "you")))
    return 0
'''

# The PR's head. Its diff against BASE has two hunks on the new side: lines 4-10 and 15-29.
HEAD = '''\
"""A tiny shop."""

import os


def greet(name):
    return "Hello " + name


class Store:
    def __init__(self):
        self.items = []

    def add(self, item):
        self.items.append(item)
        return len(self.items)

    def total(self):
        t = 0
        for item in self.items:
            t = t + item
        return t


def main():
    store = Store()
    store.add(1)
    print(greet(os.environ.get("USER", "you")))
    return store.total()
'''

FIXED = HEAD.replace("            t = t + item\n", "            t += item\n")


def git(repo: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=repo, input=stdin, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"git {' '.join(args)} failed:\n{done.stderr}\n{stdin}"
    return done.stdout


@dataclass(frozen=True)
class PR:
    repo: Path
    diff: str

    def read(self, path: str) -> str | None:
        file = self.repo / path
        return file.read_bytes().decode() if file.is_file() else None

    def apply(self, patch: str) -> None:
        """Real ``git apply --check`` and then ``git apply`` in the PR head's checkout."""
        assert patch.endswith("\n")
        git(self.repo, "apply", "--check", "-", stdin=patch)
        git(self.repo, "apply", "-", stdin=patch)

    def parse_patch(self, reply: str) -> str:
        result = parse_reply("patch", reply, self.read, pr_diff=self.diff)
        assert result.dropped == ()
        self.apply(result.suggestion.patch)
        return result.suggestion.edit_format


def make_pr(tmp_path: Path, base: dict[str, str], head: dict[str, str]) -> PR:
    repo = tmp_path / "repo"
    repo.mkdir(parents=True)
    git(repo, "init", "-q")
    git(repo, "config", "core.autocrlf", "false")
    for files in (base, head):
        for name, text in files.items():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_bytes(text.encode())
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "commit")
    return PR(repo, git(repo, "diff", "HEAD~1", "HEAD"))


@pytest.fixture
def pr(tmp_path: Path) -> PR:
    return make_pr(tmp_path, {"src/shop.py": BASE, "README.md": "# shop\n"}, {"src/shop.py": HEAD})


def shop(pr: PR) -> str:
    return (pr.repo / "src/shop.py").read_text()


# --- unified diffs ---------------------------------------------------------------------------------------------


def test_fenced_diff_with_wrong_counts_and_prose_around_it(pr: PR) -> None:
    reply = """Here is a fix that uses augmented assignment:

```diff
--- a/src/shop.py
+++ b/src/shop.py
@@ -18,5 +18,5 @@ class Store:
     def total(self):
         t = 0
         for item in self.items:
-            t = t + item
+            t += item
         return t
```

This keeps the behaviour the same."""
    assert pr.parse_patch(reply) == "unified-diff"
    assert shop(pr) == FIXED


def test_bare_hunk_without_file_headers_goes_to_the_prs_only_file(pr: PR) -> None:
    # no ---/+++ lines, nonsense line numbers, and the empty context line lost its leading space
    reply = "@@ -1,1 +1,1 @@\n         return len(self.items)\n\n     def total(self):\n"
    reply += "-        t = 0\n+        t = 0.0\n"
    pr.parse_patch(reply)
    assert "        t = 0.0\n" in shop(pr)


def test_diff_without_prefixes_or_git_line_with_several_hunks_and_crlf_reply(pr: PR) -> None:
    reply = (
        "--- src/shop.py\r\n+++ src/shop.py\r\n"
        '@@ -7 +7 @@\r\n def greet(name):\r\n-    return "Hello " + name\r\n+    return f"Hello {name}"\r\n'
        '@@ -99,3 +99,3 @@\r\n     print(greet(os.environ.get("USER", "you")))\r\n'
        "-    return store.total()\r\n+    return int(store.total())\r\n"
    )
    pr.parse_patch(reply)
    assert '    return f"Hello {name}"\n' in shop(pr)
    assert shop(pr).endswith("    return int(store.total())\n")


def test_invented_context_is_trimmed_until_the_hunk_matches(pr: PR) -> None:
    reply = """```diff
--- a/src/shop.py
+++ b/src/shop.py
@@ -17,6 +17,6 @@
     # compute the total of all items
     def total(self):
         t = 0
         for item in self.items:
-            t = t + item
+            t += item
         return t
     # end of total
```"""
    pr.parse_patch(reply)
    assert shop(pr) == FIXED


def test_diff_that_matches_nothing_says_which_hunk_and_line(pr: PR) -> None:
    reply = "```diff\n--- a/src/shop.py\n+++ b/src/shop.py\n@@ -1,2 +1,2 @@\n"
    reply += " def total(self):\n-    s = sum(x)\n+    s = 0\n```"
    with pytest.raises(ReplyParseError, match=r"hunk 1 for src/shop.py does not match the file: line 's = sum\(x\)'"):
        parse_reply("patch", reply, pr.read, pr_diff=pr.diff)


def test_diff_can_create_and_delete_files(pr: PR) -> None:
    reply = (
        "diff --git a/tests/test_shop.py b/tests/test_shop.py\nnew file mode 100644\n--- /dev/null\n"
        "+++ b/tests/test_shop.py\n@@ -0,0 +1,2 @@\n+def test_nothing():\n+    assert True\n"
        "--- a/README.md\n+++ /dev/null\n@@ -1 +0,0 @@\n-# shop\n"
    )
    pr.parse_patch(reply)
    assert (pr.repo / "tests/test_shop.py").read_text() == "def test_nothing():\n    assert True\n"
    assert not (pr.repo / "README.md").exists()


# --- SEARCH/REPLACE --------------------------------------------------------------------------------------------


def test_search_replace_aider_style_with_path(pr: PR) -> None:
    reply = """I will simplify the loop.

src/shop.py
```python
<<<<<<< SEARCH
            t = t + item
=======
            t += item
>>>>>>> REPLACE
```"""
    assert pr.parse_patch(reply) == "search-replace"
    assert shop(pr) == FIXED


def test_search_replace_without_path_in_a_one_file_pr_and_whitespace_drift(pr: PR) -> None:
    # the model lost the indentation and added trailing spaces; the replacement is re-indented to the file's
    reply = "<<<<<<< SEARCH\nfor item in self.items:   \n    t = t + item\n"
    reply += "=======\nfor item in self.items:\n    t += item\n>>>>>>> REPLACE\n"
    pr.parse_patch(reply)
    assert shop(pr) == FIXED


def test_two_blocks_second_inherits_the_path_and_path_in_bold(pr: PR) -> None:
    reply = """**src/shop.py**
```
<<<<<<< SEARCH
    return "Hello " + name
=======
    return "Hello, " + name
>>>>>>> REPLACE
<<<<<<< SEARCH
            t = t + item
=======
            t += item
>>>>>>> REPLACE
```"""
    pr.parse_patch(reply)
    assert shop(pr) == FIXED.replace('"Hello " + name', '"Hello, " + name')


def test_search_block_that_does_not_match_names_block_and_closest_line(pr: PR) -> None:
    reply = """src/shop.py
<<<<<<< SEARCH
    return "Hello " + name
=======
    return "Hey " + name
>>>>>>> REPLACE
src/shop.py
<<<<<<< SEARCH
        for itm in self.items:
=======
        for item in list(self.items):
>>>>>>> REPLACE
"""
    with pytest.raises(ReplyParseError) as caught:
        parse_reply("patch", reply, pr.read, pr_diff=pr.diff)
    assert str(caught.value).startswith("SEARCH block 2 for src/shop.py does not match the file: line 'for itm in")
    assert "closest: line 20 'for item in self.items:'" in str(caught.value)


def test_search_replace_without_path_in_a_two_file_pr_asks_for_the_path(tmp_path: Path) -> None:
    pr = make_pr(tmp_path, {"a.py": "x = 1\n", "b.py": "y = 1\n"}, {"a.py": "x = 2\n", "b.py": "y = 2\n"})
    reply = "<<<<<<< SEARCH\nx = 2\n=======\nx = 3\n>>>>>>> REPLACE"
    with pytest.raises(ReplyParseError, match="block 1 names no file: put the file path alone on the line before"):
        parse_reply("patch", reply, pr.read, pr_diff=pr.diff)


def test_empty_search_creates_a_new_file(pr: PR) -> None:
    reply = "tests/test_total.py\n```python\n<<<<<<< SEARCH\n=======\nfrom src.shop import Store\n>>>>>>> REPLACE\n```"
    pr.parse_patch(reply)
    assert (pr.repo / "tests/test_total.py").read_text() == "from src.shop import Store\n"


def test_crlf_file_stays_crlf(tmp_path: Path) -> None:
    pr = make_pr(tmp_path, {"w.py": "a = 1\r\nb = 2\r\n"}, {"w.py": "a = 1\r\nb = 3\r\nc = 4\r\n"})
    pr.parse_patch("w.py\n<<<<<<< SEARCH\nb = 3\n=======\nb = 30\nbb = 31\n>>>>>>> REPLACE\n")
    assert (pr.repo / "w.py").read_bytes() == b"a = 1\r\nb = 30\r\nbb = 31\r\nc = 4\r\n"


def test_file_without_final_newline_keeps_it_that_way(tmp_path: Path) -> None:
    pr = make_pr(tmp_path, {"n.py": "a = 1"}, {"n.py": "a = 1\nb = 2"})
    pr.parse_patch("n.py\n<<<<<<< SEARCH\nb = 2\n=======\nb = 3\n>>>>>>> REPLACE\n")
    assert (pr.repo / "n.py").read_text() == "a = 1\nb = 3"


# --- fenced whole functions and files --------------------------------------------------------------------------


def test_fenced_method_replaces_that_method_reindented(pr: PR) -> None:
    reply = """Replace the method with a simpler one:

src/shop.py
```python
def total(self):
    t = 0
    for item in self.items:
        t += item
    return t
```"""
    assert pr.parse_patch(reply) == "whole-function"
    assert shop(pr) == FIXED


def test_fenced_function_with_path_comment_decorator_and_new_import(pr: PR) -> None:
    reply = """```python
# src/shop.py
import functools


@functools.cache
def greet(name):
    return "Hello " + name
```"""
    pr.parse_patch(reply)
    assert "import os\nimport functools\n" in shop(pr)
    assert '\n\n@functools.cache\ndef greet(name):\n    return "Hello " + name\n' in shop(pr)


def test_unnamed_fence_with_a_function_of_the_only_file(pr: PR) -> None:
    reply = 'Try this:\n```python\ndef greet(name):\n    return "Hello " + name.strip()\n```\n'
    pr.parse_patch(reply)
    assert '    return "Hello " + name.strip()\n' in shop(pr)


def test_whole_file_replacement(pr: PR) -> None:
    reply = f"Here is the whole file.\n\n`src/shop.py`:\n```python\n{FIXED}```\n"
    assert pr.parse_patch(reply) == "whole-file"
    assert shop(pr) == FIXED


def test_fenced_fragment_that_is_neither_is_refused(pr: PR) -> None:
    reply = "src/shop.py\n```python\nstore = Store()\nstore.add(2)\n```"
    with pytest.raises(ReplyParseError, match="neither whole functions or classes of that file nor the whole file"):
        parse_reply("patch", reply, pr.read, pr_diff=pr.diff)


def test_the_prs_own_new_file_diff_copied_back_is_refused_but_a_real_rewrite_is_applied(tmp_path: Path) -> None:
    # SmolLM2 in the bakeoff: on a PR that adds a file, it answers with that PR's diff (often with lines cut short).
    stub = "from typing import List\n\n\ndef total(xs: List[int]) -> int:\n    raise NotImplementedError\n"
    pr = make_pr(tmp_path, {"README.md": "# x\n"}, {"calc.py": stub})
    header = "```diff\n--- /dev/null\n+++ b/calc.py\n@@ -0,0 +1,5 @@\n"
    echo = "The pull request's diff:\n" + header + "+from typing import List\n\n\ndef total(xs: List[int]) -> int:\n```"
    with pytest.raises(ReplyParseError, match=r"the diff creates calc.py, which already exists with those lines"):
        parse_reply("patch", echo, pr.read, pr_diff=pr.diff)

    body = stub.replace("raise NotImplementedError", "return sum(xs)")
    rewrite = header + "".join(f"+{line}\n" for line in body.splitlines()) + "```"
    assert pr.parse_patch(rewrite) == "unified-diff"
    assert (pr.repo / "calc.py").read_text() == body


# --- replies that are no edit ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("", "the reply is empty"),
        ("The code looks good to me! No changes needed.", "no edit found: answer with SEARCH/REPLACE blocks"),
        ("```bash\npytest -q\n```", "no edit found"),
        ("src/shop.py\n<<<<<<< SEARCH\nt = 0\n=======\nt = 0\n>>>>>>> REPLACE", "change nothing"),
        ("src/shop.py\n<<<<<<< SEARCH\nt = 0\n>>>>>>> REPLACE", "has no ======= line"),
        ("../etc/passwd\n<<<<<<< SEARCH\nroot\n=======\nme\n>>>>>>> REPLACE", "relative to the repository root"),
        ("src/gone.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE", "src/gone.py, which does not exist"),
    ],
)
def test_garbage_replies_fail_with_a_reason_the_model_can_act_on(pr: PR, reply: str, reason: str) -> None:
    with pytest.raises(ReplyParseError, match=reason.replace(".", r"\.")):
        parse_reply("patch", reply, pr.read, pr_diff=pr.diff)


# --- review comments -------------------------------------------------------------------------------------------


def review(pr: PR, reply: str) -> tuple[list[tuple[str, int, int | None, str | None]], tuple[str, ...], str]:
    result = parse_reply("review", reply, pr.read, pr_diff=pr.diff)
    suggestion = result.suggestion
    assert (suggestion.purpose, suggestion.edit_format) == ("review", "review-json")
    comments = [(c.path, c.line, c.start_line, c.replacement) for c in suggestion.comments]
    return comments, result.dropped, suggestion.patch


def test_review_keeps_a_comment_in_the_diff_and_drops_one_outside_it(pr: PR) -> None:
    reply = """```json
[
  {"path": "src/shop.py", "line": 21, "body": "Use `+=` here.", "suggestion": "            t += item"},
  {"path": "src/shop.py", "line": 12, "body": "Name this better."},
]
```"""
    comments, dropped, patch = review(pr, reply)
    assert comments == [("src/shop.py", 21, None, "            t += item\n")]  # each line with its end
    assert dropped == ("src/shop.py:12: not a line on the new side of the PR's diff",)
    pr.apply(patch)
    assert shop(pr) == FIXED


def test_review_multi_line_suggestion_crossing_two_hunks_is_dropped(pr: PR) -> None:
    reply = '[{"path": "src/shop.py", "start_line": 7, "line": 18, "body": "x", "suggestion": "pass"}]'
    comments, dropped, patch = review(pr, reply)
    assert (comments, patch) == ([], "")
    assert dropped == ("src/shop.py:7-18: the range is not inside one hunk of the PR's diff",)


def test_review_multi_line_suggestion_inside_one_hunk_applies(pr: PR) -> None:
    reply = (
        '[{"path": "src/shop.py", "start_line": 19, "line": 22, "body": "Use sum().",'
        ' "replacement": "```suggestion\\n        return sum(self.items)\\n```"}]'
    )
    comments, dropped, patch = review(pr, reply)
    assert comments == [("src/shop.py", 22, 19, "        return sum(self.items)\n")]
    assert dropped == ()
    pr.apply(patch)
    assert "    def total(self):\n        return sum(self.items)\n\n" in shop(pr)


def test_review_tolerates_a_single_object_string_line_and_code_fences_in_the_body(pr: PR) -> None:
    reply = """Sure! Here is my review:
```json
{"file": "src/shop.py", "line": "L29", "body": "Return a float?\\n```python\\nreturn float(x)\\n```"}
```"""
    comments, dropped, patch = review(pr, reply)
    assert comments == [("src/shop.py", 29, None, None)]
    assert (dropped, patch) == ((), "")


def test_review_overlapping_suggestions_keep_the_first(pr: PR) -> None:
    reply = """[
 {"path": "src/shop.py", "line": 21, "body": "a", "suggestion": "            t += item"},
 {"path": "src/shop.py", "start_line": 20, "line": 21, "body": "b", "suggestion": "        t = sum(self.items)"},
 {"path": "src/shop.py", "line": 7, "body": "c", "suggestion": "    return 'Hello ' + name"}
]"""
    comments, dropped, patch = review(pr, reply)
    assert [c[1] for c in comments] == [21, 7]
    assert dropped == ("src/shop.py:20-21: the suggestion overlaps the one at src/shop.py:21",)
    pr.apply(patch)
    assert shop(pr) == FIXED.replace('"Hello " + name', "'Hello ' + name")


def test_review_with_no_comments_is_fine_but_broken_json_is_not(pr: PR) -> None:
    assert review(pr, "No problems found.\n```json\n[]\n```") == ([], (), "")
    with pytest.raises(ReplyParseError, match="no JSON list of review comments found"):
        parse_reply("review", "Looks fine, nothing to add.", pr.read, pr_diff=pr.diff)
    with pytest.raises(ReplyParseError, match="the JSON is cut off"):
        parse_reply("review", 'Looks fine. {"path": "src/shop.py", "line": ', pr.read, pr_diff=pr.diff)


def test_review_comment_on_a_file_outside_the_pr(pr: PR) -> None:
    comments, dropped, _ = review(pr, "[{'path': 'README.md', 'line': 1, 'body': 'typo', 'suggestion': None}]")
    assert comments == []
    assert dropped == ("README.md:1: not a file the PR's diff changes (or it was deleted)",)


# --- replies that repeat what the PR already has ----------------------------------------------------------------


def test_echoing_the_prs_own_diff_is_not_a_change(pr: PR) -> None:
    with pytest.raises(ReplyParseError, match="repeats changes the files already have"):
        parse_reply("patch", f"The pull request's diff:\n```diff\n{pr.diff}```\n", pr.read, pr_diff=pr.diff)


def test_echoed_pr_diff_followed_by_search_replace_uses_the_blocks(pr: PR) -> None:
    reply = f"```diff\n{pr.diff}```\n\nsrc/shop.py\n<<<<<<< SEARCH\n            t = t + item\n=======\n"
    reply += "            t += item\n>>>>>>> REPLACE\n"
    assert pr.parse_patch(reply) == "search-replace"
    assert shop(pr) == FIXED


def test_search_replace_already_applied_says_so(pr: PR) -> None:
    reply = 'src/shop.py\n<<<<<<< SEARCH\n    return "Hi " + name\n=======\n    return "Hello " + name\n>>>>>>> REPLACE'
    with pytest.raises(ReplyParseError, match="already has its REPLACE lines"):
        parse_reply("patch", reply, pr.read, pr_diff=pr.diff)


def test_failed_search_replace_in_a_fence_is_not_taken_for_a_whole_file(tmp_path: Path) -> None:
    pr = make_pr(tmp_path, {"s.cfg": "a = 1\nb = 2\n"}, {"s.cfg": "a = 1\nb = 3\n"})
    reply = "s.cfg\n```\n<<<<<<< SEARCH\nb = 4\n=======\nb = 5\n>>>>>>> REPLACE\n```"
    with pytest.raises(ReplyParseError, match=r"SEARCH block 1 for s\.cfg does not match"):
        parse_reply("patch", reply, pr.read, pr_diff=pr.diff)


def test_fenced_method_taking_self_replaces_the_method_not_a_function_of_the_same_name(tmp_path: Path) -> None:
    code = "def add(a, b):\n    return a + b\n\n\nclass Calc:\n    def add(self, a, b):\n        return a - b\n"
    pr = make_pr(tmp_path, {"calc.py": "x = 1\n"}, {"calc.py": code})
    pr.parse_patch("calc.py\n```python\ndef add(self, a, b):\n    return a + b\n```")
    assert (pr.repo / "calc.py").read_text() == code.replace("a - b", "a + b")


def test_aider_style_diff_with_no_line_numbers_and_headers_without_hunk_line(pr: PR) -> None:
    reply = '```diff\n--- src/shop.py\n+++ src/shop.py\n@@ ... @@\n def greet(name):\n-    return "Hello " + name\n'
    reply += '+    return "Hello, " + name\n```'
    pr.parse_patch(reply)
    assert '    return "Hello, " + name\n' in shop(pr)
    pr2 = make_pr(pr.repo.parent / "second", {"a.py": "x = 1\n"}, {"a.py": "x = 2\n"})
    pr2.parse_patch("--- a/a.py\n+++ b/a.py\n-x = 2\n+x = 3\n")
    assert (pr2.repo / "a.py").read_text() == "x = 3\n"


def test_review_json_with_raw_newlines_stray_backslashes_and_numbered_lines(pr: PR) -> None:
    reply = (
        '```json\n[{"path": "src/shop.py", "line": 10, "body": "Context lines\n are fine too: \\d"},\n'
        ' {"path": "src/shop.py", "line": 7, "body": "strip digits", '
        '"suggestion": "   7|     return \\"Hello \\" + re.sub(r\'\\d\', \'\', name)"},]\n```'
    )
    comments, dropped, patch = review(pr, reply)
    assert dropped == ()
    assert comments[0][:3] == ("src/shop.py", 10, None)
    assert comments[1][3] == "    return \"Hello \" + re.sub(r'\\d', '', name)\n"
    pr.apply(patch)
    assert "    return \"Hello \" + re.sub(r'\\d', '', name)\n" in shop(pr)


def test_the_models_words_before_the_edit_become_the_summary(pr: PR) -> None:
    reply = "Use augmented assignment in\nthe loop.\n\nsrc/shop.py\n<<<<<<< SEARCH\n            t = t + item\n"
    reply += "=======\n            t += item\n>>>>>>> REPLACE\n"
    suggestion = parse_reply("patch", reply, pr.read, pr_diff=pr.diff).suggestion
    assert suggestion.summary == "Use augmented assignment in the loop."


def test_review_suggestion_that_changes_nothing_is_not_posted(pr: PR) -> None:
    reply = """[
 {"path": "src/shop.py", "line": 22, "body": "Fine, but name it total.", "suggestion": "        return t"},
 {"path": "src/shop.py", "line": 21, "body": "", "suggestion": "            t = t + item"}
]"""
    comments, dropped, patch = review(pr, reply)
    assert comments == [("src/shop.py", 22, None, None)]
    assert dropped == (
        "src/shop.py:22: suggestion removed, it repeats the lines unchanged",
        "src/shop.py:21: the suggestion repeats the lines unchanged",
    )
    assert patch == ""


def test_a_path_inside_an_earlier_fence_does_not_name_the_next_fence(pr: PR) -> None:
    # what SmolLM2-135M really answered: an echo of the diff, then a "template" fence
    reply = "The pull request's diff:\n```\ndiff --git a/src/shop.py b/src/shop.py\n--- a/src/shop.py\n"
    reply += "+---b/src/shop.py\nsrc/main.py\n```\n\nThe pull request's template:\n"
    reply += "```\n# Add a new item to the store.\n```"
    with pytest.raises(ReplyParseError, match="no edit found"):
        parse_reply("patch", reply, pr.read, pr_diff=pr.diff)


def test_review_comment_without_a_line_is_dropped_naming_the_file(pr: PR) -> None:
    _, dropped, _ = review(pr, '[{"path": "src/shop.py", "body": "Looks odd."}]')
    assert dropped == ("src/shop.py: no line number",)


def test_review_list_cut_off_keeps_its_complete_comments_unless_a_fence_or_the_finish_reason_says_cut(pr: PR) -> None:
    reply = '[{"path": "src/shop.py", "line": 21, "body": "Use +=."},\n {"path": "src/shop.py", "li'
    comments, dropped, _ = review(pr, reply)
    assert (comments, dropped) == ([("src/shop.py", 21, None, None)], ())
    with pytest.raises(ReplyParseError, match="finish reason `length`"):
        parse_reply("review", reply, pr.read, pr_diff=pr.diff, finish_reason="length")
    with pytest.raises(ReplyParseError, match="fence opened on line 1 of the reply is never closed"):
        parse_reply("review", "```json\n" + reply, pr.read, pr_diff=pr.diff)
    with pytest.raises(ReplyParseError, match="the JSON is cut off before it closes: write fewer, shorter comments"):
        parse_reply("review", '[\n  {"path": "src/shop.py", "children": [{"na', pr.read, pr_diff=pr.diff)
