"""The baseline: how the head behaves without the patch, computed once per head commit and test command.

A small JSON file per (head sha, test command) in the cache directory holds each test's outcome and the exit
status of every extra command; later patches on the same head read it instead of running the suite again. It is
written atomically (temporary file, then rename), and never for a run that timed out (that may be the machine's
load, not the code). The file is written from the head's own test run: a head can only make its own gating laxer.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import platformdirs

CACHE_ENV = "GUARDRAIL_CACHE_DIR"
FORMAT = 2  # 2: "problem" (the head could not be judged)


def default_cache_dir() -> Path:
    """``$GUARDRAIL_CACHE_DIR`` if set, else ``guardrail/baselines`` under the user's cache directory."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_cache_dir("guardrail")) / "baselines"


@dataclass(frozen=True)
class Baseline:
    """The head's behaviour without the patch. ``outcomes`` maps test id to passed/failed/error/skipped."""

    head: str
    tests_command: str
    returncode: int | None = None  # None: the tests were not run into this baseline
    outcomes: Mapping[str, str] = field(default_factory=dict)
    commands: Mapping[str, int] = field(default_factory=dict)  # command line -> exit status on the head
    seconds: float = 0.0
    cached: bool = False  # read from the cache rather than computed by this run
    problem: str | None = None  # why the head's own test run cannot be judged test by test (it did not run)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "head": self.head,
            "tests_command": self.tests_command,
            "returncode": self.returncode,
            "outcomes": dict(self.outcomes),
            "commands": dict(self.commands),
            "seconds": round(self.seconds, 3),
            "problem": self.problem,
        }


class BaselineCache:
    """Baselines on disk, one file per head sha and test command."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, head: str, tests_command: str) -> Path:
        digest = hashlib.sha256(tests_command.encode("utf-8")).hexdigest()[:16]
        return self.directory / f"{head}-{digest}.json"

    def load(self, head: str, tests_command: str) -> Baseline | None:
        """The cached baseline, or None when there is none (or it is unreadable, which is the same to us)."""
        try:
            data = json.loads(self.path(head, tests_command).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("head") != head:
            return None
        if data.get("tests_command") != tests_command:
            return None
        return Baseline(
            head=head,
            tests_command=tests_command,
            returncode=data.get("returncode"),
            outcomes={str(k): str(v) for k, v in dict(data.get("outcomes") or {}).items()},
            commands={str(k): int(v) for k, v in dict(data.get("commands") or {}).items()},
            seconds=float(data.get("seconds") or 0.0),
            cached=True,
            problem=str(data["problem"]) if data.get("problem") else None,
        )

    def store(self, baseline: Baseline) -> Path:
        """Write (or merge into) the file for this head; atomic, so a reader never sees half a file."""
        existing = self.load(baseline.head, baseline.tests_command)
        if existing is not None:
            merged_commands = {**existing.commands, **baseline.commands}
            if baseline.returncode is None:
                baseline = replace(existing, commands=merged_commands)
            else:
                baseline = replace(baseline, commands=merged_commands)
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.path(baseline.head, baseline.tests_command)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(baseline.to_json(), handle, indent=1, sort_keys=True)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target
