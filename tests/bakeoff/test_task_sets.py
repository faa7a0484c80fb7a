"""The task sets: every task's reference solution passes its hidden checks (and the gates), the unchanged PR fails
them; the HumanEval adapter; a malformed task is a one-line error naming the file."""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path

import pytest

from bot.bakeoff import hidden, humaneval, raw
from bot.bakeoff.repo import materialize
from bot.bakeoff.tasks import Task, load_task_dir, load_tasks
from bot.cli import main
from bot.errors import ConfigError
from bot.types import GateSettings
from checks.engine import run_gates
from tests.bakeoff.scripted import EXAMPLES

PR_TASKS = load_task_dir(EXAMPLES)
HUMANEVAL_CHUNK = 21  # 164 problems in 8 tests, each well inside the 300 s test timeout on a loaded machine


@pytest.fixture(autouse=True)
def _python_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("GUARDRAIL_CACHE_DIR", str(tmp_path / "cache"))


def _patch(task: Task) -> str:
    head = task.head_files()
    parts = []
    for path, text in task.solution.items():
        old = head.get(path, "").splitlines(True)
        diff = difflib.unified_diff(old, text.splitlines(True), f"a/{path}", f"b/{path}")
        parts.append(f"diff --git a/{path} b/{path}\n" + "".join(diff))
    return "".join(parts)


def test_the_example_set_has_every_kind_it_promises() -> None:
    kinds = [t.kind for t in PR_TASKS]
    assert len(PR_TASKS) >= 20
    assert {k: kinds.count(k) for k in sorted(set(kinds))} == {
        "hard": 3, "hidden-test": 5, "legacy": 3, "lint": 4, "pr-test": 5, "refactor": 2, "review": 3,
    }  # fmt: skip
    assert all(t.bug is not None for t in PR_TASKS if t.purpose == "review")


@pytest.mark.slow
@pytest.mark.parametrize("task", PR_TASKS, ids=[t.id for t in PR_TASKS])
def test_the_reference_passes_gates_and_hidden_checks_and_the_unchanged_pr_fails(task: Task, tmp_path: Path) -> None:
    pr = materialize(task, tmp_path / "repo")

    unchanged = hidden.run(task, pr)
    verdict = run_gates(pr.repo, pr.base_sha, pr.head_sha, _patch(task), GateSettings(), cache_dir=tmp_path / "c")
    fixed = hidden.run(task, pr, patch=_patch(task))

    assert not unchanged.passed, unchanged.summary
    assert any(outcome != "passed" for outcome in unchanged.fail_to_pass.values())
    assert verdict.accepted, [(g.name, g.summary) for g in verdict.gates]
    assert fixed.passed, fixed.summary


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(8))
def test_every_humaneval_reference_passes_its_own_test_and_the_stub_fails_it(chunk: int, tmp_path: Path) -> None:
    tasks = humaneval.tasks()[chunk * HUMANEVAL_CHUNK : (chunk + 1) * HUMANEVAL_CHUNK]
    for task in tasks:
        pr = materialize(task, tmp_path / task.id)
        stub = hidden.run(task, pr)
        reference = hidden.run(task, pr, files=dict(task.solution))
        assert not stub.passed and stub.no_effect, (task.id, stub.summary)
        assert reference.passed, (task.id, reference.summary)


def test_humaneval_comes_from_the_installed_wheel_as_164_stub_prs() -> None:
    problems = humaneval.problems()
    first = humaneval.tasks(1)[0]

    assert len(problems) == 164 and problems[0]["task_id"] == "HumanEval/0"
    assert first.id == "humaneval-000" and first.kind == "humaneval" and first.purpose == "patch"
    stub = first.pr["problem.py"]
    assert stub is not None and stub.startswith(problems[0]["prompt"].rstrip("\n"))
    assert stub.endswith('    raise NotImplementedError("stub: to be written")\n')
    assert "def check(candidate):" in first.hidden["tests/test_hidden_humaneval.py"]
    assert "check" not in "".join(t or "" for t in first.pr.values())  # the problem's test is hidden
    assert [t.id for t in load_tasks("humaneval[:3]")] == ["humaneval-000", "humaneval-001", "humaneval-002"]
    assert len(load_tasks("humaneval:5")) == 5


@pytest.mark.parametrize("spec", ["humaneval:0", "humaneval:x", "humaneval[3]", "humaneval:-1"])
def test_a_bad_humaneval_count_is_a_usage_error(spec: str) -> None:
    with pytest.raises(ConfigError, match=r"write humaneval, humaneval:N or humaneval\[:N\]"):
        load_tasks(spec)


def _task_dir(root: Path, task_yml: str, *, solution: bool = True) -> Path:
    (root / "t1" / "pr").mkdir(parents=True)
    (root / "t1" / "pr" / "a.py").write_text("x = 1\n")
    if solution:
        (root / "t1" / "solution").mkdir()
        (root / "t1" / "solution" / "a.py").write_text("x = 2\n")
    (root / "t1" / "task.yml").write_text(task_yml)
    return root


@pytest.mark.parametrize(
    ("task_yml", "message"),
    [
        ("purpose: fix\nfail_to_pass: [tests/test_a.py::test_x]\n", "purpose must be patch or review"),
        ("purpose: patch\nfail_to_pass: [test_x]\n", "fail_to_pass must be a list of pytest node ids"),
        ("purpose: patch\nfail_to_pass: []\n", "fail_to_pass is empty"),
        ("purpose: review\nfail_to_pass: [tests/test_a.py::test_x]\n", "a review task needs bug: {path:"),
        ("purpose: patch\nfail_to_pass: [tests/test_a.py::test_x]\nhiden: {}\n", "unknown key(s) hiden"),
        ("purpose: [patch\n", "not valid YAML"),
    ],
)
def test_a_malformed_task_names_its_file_and_what_to_fix(tmp_path: Path, task_yml: str, message: str) -> None:
    root = _task_dir(tmp_path, task_yml)
    with pytest.raises(ConfigError) as error:
        load_task_dir(root)
    assert message in str(error.value) and str(root / "t1" / "task.yml") in str(error.value)


def test_the_command_refuses_bad_input_with_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bakeoff", "--model", "embedded", "--out", str(tmp_path / "out"), "--quiet"]
    assert main([*argv, "--tasks", str(tmp_path / "nowhere")]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert main([*argv, "--tasks", "humaneval:2", "--model", "gpt-9"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'gpt-9'; the admin policy defines: embedded" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "old.json").write_text("{}")
    assert main([*argv, "--tasks", "humaneval:2", "--baseline", str(tmp_path / "old.json")]) == 2
    assert "not a bakeoff results.json" in capsys.readouterr().err
    assert main([*argv, "--tasks", "humaneval:2", "--repeat", "0"]) == 2
    assert "--repeat" in capsys.readouterr().err


def test_a_raw_answer_is_read_as_a_file_or_a_completion() -> None:
    task = humaneval.tasks(3)[2]  # truncate_number
    prompt = task.raw_prompt
    assert prompt is not None
    answer = "Sure:\n```python\ndef truncate_number(number: float) -> float:\n    return number % 1\n```"
    whole = raw.extract(task, answer)
    assert whole is not None and whole.startswith(prompt.rstrip("\n")) and whole.endswith("return number % 1\n")
    assert raw.extract(task, "    return number % 1.0\n") == prompt + "    return number % 1.0\n"
    assert raw.extract(task, "I would use the modulo operator.") is None
    pr_task = next(t for t in PR_TASKS if t.id == "hidden-clamp")
    assert raw.extract(pr_task, "```python\nSTEP = 5\n```\n") == "STEP = 5\n"
