"""The outcome artifact of the fork-safe workflow pair: written by the ``pull_request`` run, read by ``workflow_run``.

The artifact crosses from a run whose workflow file the PR itself can change (a fork PR's ``pull_request`` run) into
a run with a write token, so ``read_outcome`` treats it as untrusted data: a size cap, strict validation into the
Outcome type, and checks against what GitHub says (same repository, a PR whose head is the artifact's head and the
triggering run's head). Nothing in it is executed; its suggestions still go only on lines of the PR's diff.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from bot.errors import ConfigError
from bot.types import Outcome

MAX_ARTIFACT_BYTES = 5 * 1024 * 1024
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_ADAPTER: TypeAdapter[Outcome] = TypeAdapter(Outcome)


def write_outcome(outcome: Outcome, path: Path) -> None:
    """Write ``outcome`` as JSON (the artifact the ``workflow_run`` side posts)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_ADAPTER.dump_json(outcome, indent=2))


def read_outcome(path: Path, *, repository: str) -> Outcome:
    """The Outcome in ``path``, validated; a ConfigError naming the file and what is wrong with it."""
    where = f"{path} (--post-outcome)"
    try:
        size = path.stat().st_size
        if size > MAX_ARTIFACT_BYTES:
            raise ConfigError(f"the outcome file is {size} bytes, over the {MAX_ARTIFACT_BYTES} allowed", where=where)
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the outcome file ({exc.strerror})", where=where) from exc
    try:
        outcome = _ADAPTER.validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(f"not a Guardrail outcome: {first['msg']}", where=where, key=key) from exc
    pr = outcome.pr
    problems = []
    if pr.repo_name != repository:
        problems.append(f"it is for repository {pr.repo_name!r}, not {repository!r}")
    if pr.number is None or pr.number < 1:
        problems.append("it names no pull request number")
    if not (_SHA_RE.match(pr.head_sha) and _SHA_RE.match(pr.base_sha)):
        problems.append("its base_sha and head_sha are not full commit shas")
    if pr.repo_name is not None and not _REPO_RE.match(pr.repo_name):
        problems.append("its repo_name is not owner/name")
    if outcome.winner is not None and outcome.winning_attempt is None:
        problems.append("it names a winner without an accepted attempt")
    if problems:
        raise ConfigError("refusing the outcome file: " + "; ".join(problems), where=where)
    return outcome
