"""What one task run saw, recorded at the two seams the pipeline already has: the model and the gate runner.

``Recorder.model(inner)`` wraps a ``ChatModel`` and logs every reply (with its wall-clock latency and finish reason)
and every model error; ``Recorder.gates`` wraps ``checks.engine.run_gates`` and logs every patch gated with its
verdict. The pipeline runs unchanged between them, so the bakeoff measures exactly the pull-request path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.models.base import ChatModel
from bot.router import GateRunner
from bot.types import ChatMessage, Completion, GateSettings, ModelSpec, Verdict


@dataclass(frozen=True)
class ReplyEvent:
    completion: Completion
    seconds: float  # wall clock, request to reply


@dataclass(frozen=True)
class ErrorEvent:
    kind: str  # the ModelError subclass name
    message: str
    seconds: float


@dataclass(frozen=True)
class GatesEvent:
    patch: str
    verdict: Verdict


Event = ReplyEvent | ErrorEvent | GatesEvent


@dataclass
class Recorder:
    """The events of one task run, in order."""

    gate_runner: GateRunner
    clock: Callable[[], float] = time.monotonic
    events: list[Event] = field(default_factory=list)

    def model(self, inner: ChatModel) -> ChatModel:
        return _RecordingModel(inner, self)

    def gates(
        self, repo: Path, base: str, head: str, patch: str, settings: GateSettings, *, cache_dir: Path | None = None
    ) -> Verdict:
        verdict = self.gate_runner(repo, base, head, patch, settings, cache_dir=cache_dir)
        self.events.append(GatesEvent(patch, verdict))
        return verdict

    @property
    def replies(self) -> list[ReplyEvent]:
        return [e for e in self.events if isinstance(e, ReplyEvent)]


class _RecordingModel:
    """A ChatModel that logs what the wrapped one answers (or raises); everything else passes through."""

    def __init__(self, inner: ChatModel, recorder: Recorder) -> None:
        self._inner = inner
        self._recorder = recorder
        self.spec: ModelSpec = inner.spec
        self.template = inner.template
        self.exact_tokens = inner.exact_tokens

    def complete(self, messages: Sequence[ChatMessage], *, max_tokens: int | None = None) -> Completion:
        start = self._recorder.clock()
        try:
            completion = self._inner.complete(messages, max_tokens=max_tokens)
        except Exception as exc:
            self._recorder.events.append(ErrorEvent(type(exc).__name__, str(exc), self._recorder.clock() - start))
            raise
        self._recorder.events.append(ReplyEvent(completion, self._recorder.clock() - start))
        return completion

    def count_tokens(self, text: str) -> int:
        return self._inner.count_tokens(text)

    def close(self) -> None:
        self._inner.close()

    def __getattr__(self, name: str) -> Any:  # backend-specific attributes (path, url) for the model's metadata
        return getattr(self._inner, name)
