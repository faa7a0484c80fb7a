"""The bakeoff's value types: one task run, one model's identity, a whole run; and their JSON form.

``results.json`` is ``Results.to_json()``; ``Results.from_json`` reads one back for ``--baseline``. The format has
a version number; an unknown version is refused rather than misread.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import ConfigError

FORMAT = 1

# Where an attempt can fail, in pipeline order (docs/bakeoff.md explains each).
STAGES: tuple[str, ...] = (
    "context",  # the prompt could not fit the model's context
    "timeout",  # the model did not answer in time
    "error",  # the model (server) failed otherwise
    "parse",  # no usable edit / review in the reply
    "apply",  # the gates: the patch does not apply
    "paths",  # the gates: it touches paths it may not
    "ruff",  # the gates: new ruff findings
    "tests",  # the gates: the PR's own tests broke (or another configured command failed)
    "no effect",  # accepted by the gates, but no hidden FAIL_TO_PASS test passes (a review: no fix offered)
    "hidden",  # accepted by the gates, some hidden check still fails
    "missed",  # review: no comment on the seeded bug's line
)


@dataclass(frozen=True)
class Try:
    """A judgement of one reply: passed (gates and hidden checks), or the stage where it failed."""

    passed: bool
    stage: str | None = None


@dataclass(frozen=True)
class RawRun:
    """The model asked directly (``--raw``): the plain problem, its answer run against the hidden checks."""

    passed: bool
    stage: str | None
    seconds: float
    prompt_tokens: int
    completion_tokens: int
    answer: str = ""  # the model's answer (cut to MAX_TEXT characters)


MAX_TEXT = 4000  # characters of a reply kept in results.json, for reading what went wrong


@dataclass(frozen=True)
class TaskRun:
    """One model on one task (one repeat) through the pull-request path."""

    model: str
    task: str
    kind: str
    purpose: str
    repeat: int
    first: Try  # the first reply, with no re-ask
    final: Try  # after the one re-ask (parse or gate feedback), if there was one
    well_formed: bool  # the first reply parsed into a suggestion
    status: str  # the Attempt's status: accepted / rejected / error / skipped
    reason: str | None
    replies: int
    latencies: tuple[float, ...]  # seconds per reply
    prompt_tokens: int
    completion_tokens: int
    truncated: bool  # a reply stopped at the token limit (finish reason "length")
    context_exhausted: bool  # the prompt could not fit the model's context
    lines_changed: int  # of the final suggestion's patch
    files_changed: int
    comments: int
    landed: bool | None  # review tasks: a comment on the seeded bug's line
    hidden: str  # what the hidden checks said about the final suggestion
    raw: RawRun | None = None
    texts: tuple[str, ...] = ()  # the replies (each cut to MAX_TEXT characters)


@dataclass(frozen=True)
class ModelInfo:
    """Which model this was, as far as it can be told: runtime, version, quantization, chat template."""

    name: str
    runtime: str  # the backend: llamacpp / ollama / openai / anthropic
    location: str
    model: str  # the backend's model id or GGUF file
    version: str  # llama-cpp-python's version, or what the server says answered
    quantization: str
    template: str  # "chatml sha256:..." for a template we render; the server's own otherwise
    price_input: float | None  # USD per million tokens; None: unknown
    price_output: float | None


@dataclass(frozen=True)
class Results:
    """A whole bakeoff run."""

    tasks: str  # the --tasks argument
    task_ids: tuple[str, ...]
    repeat: int
    raw: bool
    started: str
    seconds: float
    models: tuple[ModelInfo, ...]
    runs: tuple[TaskRun, ...]
    format: int = FORMAT
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str) -> Results:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(
                f"not JSON ({exc}); give a results.json written by guardrail bakeoff", where=where
            ) from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ConfigError(f"not a bakeoff results.json of format {FORMAT}", where=where)
        try:
            return _results(data)
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"a results.json with a missing or malformed field ({exc})", where=where) from exc


def _results(data: dict[str, Any]) -> Results:
    runs = []
    for run in data["runs"]:
        raw = RawRun(**run["raw"]) if run.get("raw") else None
        fields = {**run, "first": Try(**run["first"]), "final": Try(**run["final"]), "raw": raw}
        fields["latencies"] = tuple(run["latencies"])
        fields["texts"] = tuple(run.get("texts", ()))
        runs.append(TaskRun(**fields))
    return Results(
        tasks=data["tasks"],
        task_ids=tuple(data["task_ids"]),
        repeat=data["repeat"],
        raw=data["raw"],
        started=data["started"],
        seconds=data["seconds"],
        models=tuple(ModelInfo(**m) for m in data["models"]),
        runs=tuple(runs),
        notes=tuple(data.get("notes", ())),
    )


def load(path: Path) -> Results:
    """A results.json from disk (``--baseline``); ConfigError naming the file when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the baseline ({exc.strerror}); give a results.json", key="--baseline") from exc
    return Results.from_json(text, str(path))
