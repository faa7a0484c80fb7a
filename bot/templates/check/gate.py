"""The quick checks (1 to 3) as a gate on a model's first use: a model whose policy entry sets ``template_check``
is checked once per process (per name, runtime and template) and refused while it fails."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import replace

import httpx

from bot.templates.check.detect import open_subject
from bot.templates.check.run import quick_problems
from bot.types import ModelSpec


class FirstUseCheck:
    """Remembers each model's quick-check problems for the life of the process."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, str, str, str], list[str]] = {}
        self._lock = threading.Lock()

    def problems(self, spec: ModelSpec, env: Mapping[str, str]) -> list[str]:
        """The quick checks' failures for ``spec`` (one line each), run on its first use; [] when it passes.
        ``ModelError`` when the runtime cannot be reached."""
        key = (spec.name, spec.backend, spec.url, spec.model, repr(spec.template))
        with self._lock:
            if key not in self._seen:
                with httpx.Client(trust_env=False) as client:  # local runtimes: no proxy from the environment
                    subject = open_subject(replace(spec, template_check=False), env, client)
                    self._seen[key] = quick_problems(subject)
            return self._seen[key]


FIRST_USE = FirstUseCheck()
