"""Scripted models for the bakeoff tests: what a good and a bad model answer, task by task, over the OpenAI wire format.

The good model answers every task with its reference solution (a unified diff for a patch, a JSON comment with a
suggestion on the seeded bug's line for a review, the whole file for a raw question), except that on
``hidden-clamp`` its first answer breaks the PR's own test, and only the gate-feedback re-ask gets the right fix.
The bad model answers prose, a patch with a new ruff finding, a patch that changes nothing that matters, or a review
comment on the wrong line, depending on the task.
"""

from __future__ import annotations

import difflib
import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bot.bakeoff.tasks import Task, load_task_dir
from tests.fakes.model_servers import Reply

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "tasks"
# Six tasks of the example set, one of each kind but "hard" (kept fast): enough pairs for the McNemar test.
CHOSEN = (
    "hidden-clamp",
    "legacy-integer-division",
    "lint-mutable-default",
    "pr-test-discount",
    "refactor-rename-alias",
    "review-adult-age",
)
RETRY_MARK = "Your answer could not be used"
TOKENS = {"prompt_tokens": 100, "completion_tokens": 20}


def copy_tasks(target: Path, names: Sequence[str] = CHOSEN) -> list[Task]:
    for name in names:
        shutil.copytree(EXAMPLES / name, target / name)
    return load_task_dir(target)


def unified(path: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"a/{path}", f"b/{path}")
    return f"```diff\n{''.join(lines)}```"


def _messages(body: Any) -> list[dict[str, str]]:
    return list(body["messages"])


def _task_of(tasks: Sequence[Task], text: str) -> Task:
    for task in tasks:
        if task.title in text:
            return task
    raise AssertionError(f"no task's title in the prompt: {text[:200]!r}")


def _review_fix(task: Task) -> str:
    assert task.bug is not None
    fixed = task.solution[task.bug.path].splitlines()[task.bug.line - 1]
    comment = {"path": task.bug.path, "line": task.bug.line, "body": "Off by one: 18 counts.", "suggestion": fixed}
    return "```json\n" + json.dumps([comment]) + "\n```"


def good(tasks: Sequence[Task]) -> Callable[[Any], Reply]:
    def respond(body: Any) -> Reply:
        messages = _messages(body)
        text = "\n".join(m["content"] for m in messages)
        task = _task_of(tasks, text)
        path = task.raw_file or next(iter(task.solution))
        head = task.head_files()[path]
        if len(messages) == 1:  # --raw: the plain problem
            return Reply(f"Here is the fixed file:\n```python\n{task.solution[path]}```", **TOKENS)
        if task.purpose == "review":
            return Reply(_review_fix(task), **TOKENS)
        if task.id == "hidden-clamp" and RETRY_MARK not in messages[-1]["content"]:
            broken = head.replace("return high", "return low")  # breaks the PR's own test_too_high
            return Reply(unified(path, head, broken), **TOKENS)
        return Reply(unified(path, head, task.solution[path]), **TOKENS)

    return respond


def bad(tasks: Sequence[Task]) -> Callable[[Any], Reply]:
    def respond(body: Any) -> Reply:
        messages = _messages(body)
        task = _task_of(tasks, "\n".join(m["content"] for m in messages))
        path = task.raw_file or next(iter(task.solution))
        head = task.head_files()[path]
        if len(messages) == 1 or task.id in ("hidden-clamp", "legacy-integer-division"):
            return Reply("I think the code looks fine overall.", **TOKENS)
        if task.purpose == "review":
            return Reply('```json\n[{"path": "signup.py", "line": 2, "body": "Name this MIN_AGE."}]\n```', **TOKENS)
        if task.id == "lint-mutable-default":
            return Reply(unified(path, head, "import os\n" + head), **TOKENS)  # F401: a new ruff finding
        return Reply(unified(path, head, head + "\n# reviewed\n"), **TOKENS)  # applies, changes nothing that matters

    return respond


def one_wrong(tasks: Sequence[Task], wrong: str) -> Callable[[Any], Reply]:
    """The good model, but on task ``wrong`` it answers as the bad one: a change at the level of noise."""
    right, broken = good(tasks), bad(tasks)

    def respond(body: Any) -> Reply:
        task = _task_of(tasks, "\n".join(m["content"] for m in _messages(body)))
        return broken(body) if task.id == wrong else right(body)

    return respond
