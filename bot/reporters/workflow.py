"""The workflow reporter: the job summary always, and workflow-command annotations when GitHub cannot be written.

A fork PR's ``pull_request`` run gets a read-only token, so no review, comment or check run can be posted (as
reviewdog does, Guardrail then reports through the workflow itself): each verified suggestion becomes a
``::warning file=…,line=…,endLine=…,title=…::`` annotation, and the job summary holds the summary, the patch as a
```diff block and a sentence saying why nothing was posted on the PR.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from bot.reporters.base import PostContext, ReportResult
from bot.reporters.github_check import annotations_for
from bot.reporters.github_summary import render_patch_details, render_summary
from bot.types import Annotation, Outcome

MAX_STEP_SUMMARY_BYTES = 1024 * 1024  # GitHub drops a larger step summary
FORK_NOTE = (
    "This pull request comes from a fork, so the workflow's token is read-only and Guardrail cannot post a review, "
    "a comment or a check run. Its results are in this job summary and in the workflow's annotations instead. "
    "To post them on the PR, use the fork-safe workflow pair (examples/workflows/guardrail-fork-*.yml)."
)
READ_ONLY_NOTE = (
    "GitHub refused to let this workflow's token write (403), so Guardrail could not post a review, a comment or a "
    "check run; its results are in this job summary and in the workflow's annotations instead. Give the job "
    "`permissions: {contents: read, pull-requests: write, checks: write, issues: write}` (a Dependabot PR gets a "
    "read-only token like a fork: use the fork-safe workflow pair)."
)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(annotation: Annotation, command: str = "warning") -> str:
    """One ``::warning file=…,line=…::message`` line, escaped as actions/toolkit escapes it."""
    props = [
        f"file={_escape_property(annotation.path)}",
        f"line={annotation.start_line}",
        f"endLine={annotation.end_line}",
    ]
    if annotation.title:
        props.append(f"title={_escape_property(annotation.title)}")
    return f"::{command} {','.join(props)}::{_escape_data(annotation.message)}"


def append_step_summary(path: Path, text: str) -> None:
    """Append Markdown to ``$GITHUB_STEP_SUMMARY``, cut to GitHub's 1 MiB so the upload is not refused."""
    data = text.encode("utf-8")
    used = path.stat().st_size if path.exists() else 0
    room = MAX_STEP_SUMMARY_BYTES - used
    if len(data) > room:
        note = "\n\n_…cut to GitHub's 1 MiB job summary limit._\n".encode()
        data = data[: max(0, room - len(note))] + note
        text = data.decode("utf-8", errors="ignore")
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


class WorkflowReporter:
    """Writes the job summary; as the fallback (``fallback_note`` says why GitHub cannot be written) also the
    suggestions as annotations, and the note and the patch in the job summary."""

    name = "workflow"

    def __init__(self, stream: TextIO, step_summary: Path | None, *, fallback_note: str | None = None) -> None:
        self._stream = stream
        self._step_summary = step_summary
        self._note = fallback_note

    def post(self, outcome: Outcome, context: PostContext) -> ReportResult:
        annotations = annotations_for(outcome, context) if self._note else []
        for annotation in annotations:
            self._stream.write(workflow_command(annotation) + "\n")
        self._stream.flush()
        if self._step_summary is not None:
            text = render_summary(outcome, context)
            if self._note:
                text = f"> [!NOTE]\n> {self._note}\n\n{text}\n{render_patch_details(outcome)}"
            append_step_summary(self._step_summary, text + "\n")
        where = "job summary" if self._step_summary is not None else "no job summary file"
        return ReportResult(self.name, bool(annotations), f"{len(annotations)} annotation(s), {where}")
