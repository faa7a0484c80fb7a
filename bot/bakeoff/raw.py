"""``--raw``: the same model asked directly, without Guardrail's prompts, parser or gates.

The plain problem goes as one user message: for HumanEval, the problem's own prompt to complete (the way published
pass@1 figures are measured, in a chat wrapper); for a PR task, its title and description and the one file the fix
changes, to be given back whole. The first fenced code block of the answer (else the whole answer) becomes the file;
a HumanEval answer that defines no function is taken as a continuation of the prompt. That file is run against the
task's hidden checks. What passes here but not through the full path is what the harness loses.
"""

from __future__ import annotations

import ast
import re
import time
from collections.abc import Callable

from bot.bakeoff.hidden import HiddenResult
from bot.bakeoff.judge import error_stage
from bot.bakeoff.results import MAX_TEXT, RawRun
from bot.bakeoff.tasks import Task
from bot.errors import ModelError
from bot.models.base import ChatModel
from bot.models.context import budget
from bot.types import ChatMessage

FilesCheck = Callable[[dict[str, str]], HiddenResult]
_FENCE = re.compile(r"^(`{3,})[^\n`]*\n(.*?)^\1[ \t]*$", re.S | re.M)
_DEF = re.compile(r"^\s*def \w+\s*\(", re.M)


def prompt(task: Task) -> str | None:
    """The plain problem, or None when the task has no single file to ask for."""
    if task.raw_prompt is not None:
        return (
            "Complete the following Python function. Reply with the complete function in one ```python block.\n\n"
            f"```python\n{task.raw_prompt}```\n"
        )
    if task.raw_file is None:
        return None
    text = task.head_files().get(task.raw_file, "")
    return (
        f"{task.title}\n\n{task.body}\n\n"
        f"The file {task.raw_file} has a bug or a problem that this change should fix:\n\n"
        f"```python\n{text}```\n\nReply with the whole corrected file in one ```python block."
    ).strip()


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def extract(task: Task, answer: str) -> str | None:
    """The file the answer gives (see the module docstring); None when it gives no code: no fenced block, and the
    answer as it stands is not Python either."""
    match = _FENCE.search(answer.replace("\r\n", "\n"))
    code = match.group(2) if match else answer
    if not code.strip():
        return None
    if task.raw_prompt is not None and not _DEF.search(code):
        code = task.raw_prompt + code  # a completion of the body
    elif task.raw_prompt is not None:
        code = task.raw_prompt.rstrip("\n") + "\n\n\n" + code  # the prompt's imports and helpers, then the answer
    return code if match or _parses(code) else None


def run(task: Task, model: ChatModel, check: FilesCheck, clock: Callable[[], float] = time.monotonic) -> RawRun | None:
    """Ask ``model`` the plain problem and run its answer against the hidden checks; None when not applicable."""
    question = prompt(task)
    if question is None or task.raw_file is None:
        return None
    max_tokens = model.spec.max_output_tokens
    start = clock()
    messages = [ChatMessage("user", question)]
    try:
        if model.count_tokens(question) > budget(model, max_tokens):
            return RawRun(False, "context", 0.0, 0, 0)
        completion = model.complete(messages, max_tokens=max_tokens)
    except ModelError as exc:
        return RawRun(False, error_stage(type(exc).__name__), clock() - start, 0, 0)
    seconds = clock() - start
    code = extract(task, completion.text)
    tokens = (completion.prompt_tokens, completion.completion_tokens)
    answer = completion.text[:MAX_TEXT]
    if code is None:
        return RawRun(False, "parse", seconds, *tokens, answer=answer)
    result = check({task.raw_file: code})
    stage = None if result.passed else ("no effect" if result.no_effect else "hidden")
    return RawRun(result.passed, stage, seconds, *tokens, answer=answer)
