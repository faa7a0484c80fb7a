"""The workflow reporter: annotations as workflow commands (escaped as actions/toolkit does) and the job summary."""

from __future__ import annotations

import io
from pathlib import Path

from bot.parse.diff import make_patch
from bot.reporters.base import PostContext
from bot.reporters.suggestions import plan_review
from bot.reporters.workflow import (
    FORK_NOTE,
    MAX_STEP_SUMMARY_BYTES,
    WorkflowReporter,
    append_step_summary,
    workflow_command,
)
from bot.types import Annotation, Attempt, GateResult, Outcome, PullInfo, PullRequest, ReviewComment, Suggestion

HEAD = "b" * 40


def test_workflow_command_escapes_data_and_properties() -> None:
    annotation = Annotation("src/a,b.py", 3, 4, "warning", "50% done\nnext: line", title="Guardrail: x")
    assert workflow_command(annotation) == (
        "::warning file=src/a%2Cb.py,line=3,endLine=4,title=Guardrail%3A x::50%25 done%0Anext: line"
    )


def test_the_fork_fallback_annotates_and_explains(tmp_path: Path) -> None:
    diff = make_patch("app.py", "a\nb\nc\n", "a\nB\nc\n")
    suggestion = Suggestion("review", "", (ReviewComment("app.py", 2, "Use lower case.", replacement="b\n"),))
    won = Attempt("coder-local", "ollama", "local", "accepted", gates=(GateResult("tests", "pass", "ok"),))
    pr = PullRequest(Path("."), "a" * 40, HEAD, repo_name="o/r", number=1, head_sha=HEAD)
    outcome = Outcome(pr, "review", True, "coder-local", (won,), suggestion)
    pull = PullInfo("o/r", 1, "main", "a" * 40, "f", HEAD, "fork/r")
    context = PostContext(pull, plan_review(suggestion, diff, HEAD, 20))
    stream, summary = io.StringIO(), tmp_path / "summary.md"

    result = WorkflowReporter(stream, summary, fallback_note=FORK_NOTE).post(outcome, context)

    assert result.posted
    assert stream.getvalue().startswith("::warning file=app.py,line=2,endLine=2,title=Guardrail review by coder-local")
    text = summary.read_text()
    assert "comes from a fork" in text and "✅ accepted" in text and "`tests` pass" in text


def test_the_job_summary_stays_under_one_mebibyte(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    append_step_summary(summary, "x" * (MAX_STEP_SUMMARY_BYTES + 10))
    assert summary.stat().st_size <= MAX_STEP_SUMMARY_BYTES
    assert summary.read_text().endswith("1 MiB job summary limit._\n")
