"""Prompts: what the model is shown, how it is cut to fit, and that our own examples parse."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from bot.errors import ContextOverflow
from bot.parse import parse_reply
from bot.parse.diff import make_patch, parse_diff
from bot.prompts import MESSAGE_OVERHEAD, build_messages, load_prompt, prompt_hash
from bot.types import ChatMessage


def count_tokens(text: str) -> int:
    """A crude tokenizer: about four characters a token, like the real ones on code."""
    return (len(text) + 3) // 4


BEFORE = "".join(f"value_{n} = {n}\n" for n in range(1, 801))
AFTER = "".join(f"value_{n} = {n * 2 if n % 40 == 0 else n}\n" for n in range(1, 801))
BIG_DIFF = make_patch("src/values.py", BEFORE, AFTER, context=3)
OTHER = "".join(f"# unrelated helper line {n}\n" for n in range(400))


def build(purpose: str = "patch", budget: int = 100_000, **kwargs: object) -> tuple[list[ChatMessage], str | None]:
    args: dict[str, object] = {
        "pr_title": "Double every 40th value",
        "pr_body": "The values were off by a factor of two.",
        "diff": BIG_DIFF,
        "files": {"src/values.py": AFTER, "docs/other.py": OTHER},
        "budget_tokens": budget,
        "count_tokens": count_tokens,
        **kwargs,
    }
    result = build_messages(purpose, **args)  # type: ignore[arg-type]
    total = sum(count_tokens(m.content) for m in result.messages) + MESSAGE_OVERHEAD * len(result.messages)
    assert result.tokens == total <= budget
    return list(result.messages), result.cut


def context_lines(user: str) -> int:
    diff = user.split("```diff\n", 1)[1].split("\n```", 1)[0]
    return sum(len([line for line in h.lines if line.startswith(" ")]) for f in parse_diff(diff) for h in f.hunks)


def test_patch_prompt_shows_pr_diff_and_files_and_asks_for_search_replace() -> None:
    messages, cut = build("patch")
    assert [m.role for m in messages] == ["system", "user"]
    system, user = messages[0].content, messages[1].content
    assert "<<<<<<< SEARCH" in system and "```diff block is also accepted" in system
    assert user.startswith("Pull request: Double every 40th value\nThe values were off by a factor of two.\n")
    assert "+value_40 = 80\n" in user
    assert "docs/other.py\n```\n# unrelated helper line 0\n" in user
    assert cut is None


def test_review_prompt_numbers_the_lines_of_the_files() -> None:
    messages, _ = build("review")
    assert "JSON list of comments" in messages[0].content
    assert "Files at the pull request's head (with line numbers):" in messages[1].content
    assert "\n  40| value_40 = 80\n" in messages[1].content


def test_over_budget_drops_unrelated_files_first_and_keeps_the_diff_whole() -> None:
    full, _ = build("patch")
    tokens = sum(count_tokens(m.content) for m in full) + 2 * MESSAGE_OVERHEAD
    messages, cut = build("patch", budget=tokens - 100)
    assert cut == "contents of 1 file not in the diff omitted"
    assert "docs/other.py" not in messages[1].content
    assert context_lines(messages[1].content) == context_lines(full[1].content)


def test_a_huge_diff_is_cut_context_first_and_cut_says_so() -> None:
    full, _ = build("patch", files={})
    full_tokens = sum(count_tokens(m.content) for m in full) + 2 * MESSAGE_OVERHEAD
    messages, cut = build("patch", budget=full_tokens * 3 // 4, files={})
    assert cut is not None and cut.startswith("diff context reduced to ")
    assert context_lines(messages[1].content) < context_lines(full[1].content)
    assert "+value_800 = 1600\n" in messages[1].content  # every change is still there


def test_changed_file_contents_are_cut_around_the_changes_keeping_line_numbers() -> None:
    messages, cut = build("review", budget=2_500, files={"src/values.py": AFTER})
    assert cut is not None and "changed files cut to" in cut
    user = messages[1].content
    assert "\n 400| value_400 = 800\n" in user
    assert re.search(r"\.\.\. \(lines \d+-\d+ not shown\)", user)
    assert "value_20 = 20\n" not in user


def test_impossible_budget_raises_context_overflow_with_the_numbers() -> None:
    with pytest.raises(ContextOverflow, match=r"the patch prompt needs \d+ tokens even cut down .*, budget 300:"):
        build("patch", budget=300)


def test_long_pr_description_is_cut_before_changed_files_are_dropped() -> None:
    body = "Because. " * 2000
    _, full_cut = build("patch", budget=10**6, pr_body=body, files={"src/values.py": AFTER})
    assert full_cut is None
    messages, cut = build("patch", budget=4_000, pr_body=body, files={"src/values.py": AFTER})
    assert cut is not None and "PR description cut to 500 characters" in cut
    assert "Because. " * 10 in messages[1].content


def test_retry_form_appends_the_previous_reply_and_the_reason() -> None:
    messages, _ = build("patch", retry_reason="SEARCH block 1 for src/values.py does not match", previous_reply="ok")
    assert [m.role for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2].content == "ok"
    assert messages[3].content.startswith("Your answer could not be used: SEARCH block 1 for src/values.py")


def test_prompt_hash_is_sha256_of_canonical_json() -> None:
    messages = [ChatMessage("system", "be brief"), ChatMessage("user", "héllo")]
    canonical = '[{"content":"be brief","role":"system"},{"content":"héllo","role":"user"}]'
    assert prompt_hash(messages) == hashlib.sha256(canonical.encode()).hexdigest()
    assert prompt_hash(messages) != prompt_hash([*messages[:1], ChatMessage("user", "hello")])
    first, _ = build("review")
    again, _ = build("review")
    assert prompt_hash(first) == prompt_hash(again)


def test_the_examples_in_the_prompts_parse_with_our_own_parser() -> None:
    """The one example a small model copies must be a reply we accept."""
    calc = "def add(a, b):\n    return a - b\n"
    diff = make_patch("src/calc.py", None, calc)
    patch_example = load_prompt("patch").split("Example:\n", 1)[1].split("\n\n", 1)[0]
    result = parse_reply("patch", patch_example, {"src/calc.py": calc}.get, pr_diff=diff)
    assert result.suggestion.patch.endswith("-    return a - b\n+    return a + b\n")

    numbered = "".join("    return a - b\n" if n == 12 else f"line {n}\n" for n in range(1, 20))
    review_example = load_prompt("review").split("Example:\n", 1)[1].split("====", 1)[0]
    comment = json.loads(review_example.strip().removeprefix("```json").removesuffix("```"))[0]
    diff = make_patch("src/calc.py", None, numbered)
    review = parse_reply("review", review_example, {"src/calc.py": numbered}.get, pr_diff=diff)
    assert [(c.path, c.line) for c in review.suggestion.comments] == [(comment["path"], comment["line"])]
