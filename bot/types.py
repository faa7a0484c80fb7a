"""Frozen value types shared by every module of Guardrail.

This is a leaf module: it imports nothing of ours, so any module may import it. Data that crosses a module
boundary travels as one of these types, never as a raw ``dict`` from a webhook, a YAML file or a model reply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

GateStatus = Literal["pass", "fail", "error", "skipped"]
Location = Literal["local", "cloud"]
Purpose = Literal["review", "patch"]
AttemptStatus = Literal["accepted", "rejected", "error", "skipped"]
Role = Literal["system", "user", "assistant"]

PURPOSES: tuple[Purpose, ...] = ("review", "patch")


# --- gates -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One problem a gate found: a ruff diagnostic, a failing test, a forbidden path."""

    path: str
    line: int
    rule: str
    message: str


@dataclass(frozen=True)
class GateResult:
    """What one gate concluded about one patch.

    ``findings`` are what the patch is blamed for. ``fixed`` is the evidence of what it did: problems the head had
    that are gone with the patch (tests failing at the head that pass with it, the FAIL_TO_PASS list; ruff findings
    it removes). ``remaining`` are the head's problems that are still there (tests failing at the head that still
    fail). For the tests gate a finding's ``message`` starts with the test's pytest node id.
    """

    name: str
    status: GateStatus
    summary: str
    findings: tuple[Finding, ...] = ()
    seconds: float = 0.0
    fixed: tuple[Finding, ...] = ()
    remaining: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """The gate engine's answer for one patch: accepted only if every gate that ran passed.

    ``verdict`` is ``accept``, ``reject`` (the first gate that did not pass failed: the patch's fault) or ``error``
    (it could not run, e.g. the head's own tests do not run: nobody can tell whether the patch is good).
    """

    accepted: bool
    reason: str | None  # name of the first gate that did not pass; None when accepted
    gates: tuple[GateResult, ...]
    # the effective change: ``git diff`` of the head against the patched tree, read back after applying (bytes
    # decoded as UTF-8 with surrogateescape, so it is lossless); "" when the patch did not apply
    patch: str = ""

    @property
    def verdict(self) -> Literal["accept", "reject", "error"]:
        if self.accepted:
            return "accept"
        first = next((g for g in self.gates if g.status in ("fail", "error")), None)
        return "error" if first is not None and first.status == "error" else "reject"

    def evidence(self, kind: Literal["fixed", "remaining"]) -> tuple[Finding, ...]:
        """Every gate's ``fixed`` (or ``remaining``) findings, in gate order."""
        return tuple(f for g in self.gates for f in getattr(g, kind))


@dataclass(frozen=True)
class CommandGate:
    """An extra gate command (e.g. ``mypy src``), compared with the baseline by exit status."""

    name: str
    command: str
    timeout: float = 300.0


@dataclass(frozen=True)
class JailLimits:
    """Resource limits for every process PR code starts in the jail (``gates.limits``); ``None`` = no limit.

    Applied with ``setrlimit`` (see ``prlimit(1)``): ``address_space_mb`` is RLIMIT_AS (virtual memory per process),
    ``file_size_mb`` RLIMIT_FSIZE (largest file a process may write), ``open_files`` RLIMIT_NOFILE, ``processes``
    RLIMIT_NPROC (processes and threads of the jail's user), ``cpu_seconds`` RLIMIT_CPU (CPU time per process).
    """

    address_space_mb: int | None = 8192
    file_size_mb: int | None = 1024
    open_files: int | None = 1024
    processes: int | None = 1024
    cpu_seconds: int | None = 1800


@dataclass(frozen=True)
class GateCeiling:
    """The admin's maxima for what one repository's gates may consume (the admin policy's ``gates:``): the
    repository's ``.github/guardrail.yml`` may ask for less, never more. Timeouts in seconds; ``limits`` as in
    :class:`JailLimits`, where ``None`` means the admin sets no maximum for that limit."""

    tests_timeout: float = 3600.0
    setup_timeout: float = 3600.0
    command_timeout: float = 3600.0  # each of gates.commands
    limits: JailLimits = field(default_factory=JailLimits)


@dataclass(frozen=True)
class Capped:
    """One value the repository asked for above the admin's maximum, and the maximum it runs with instead."""

    key: str  # the repository config's key path, e.g. "gates.tests.timeout", "gates.commands.0.timeout (mypy)"
    asked: float | None  # None: the repository asked for no limit (null)
    capped_at: float
    unit: str  # "s", "MiB", "" (a count)

    def note(self) -> str:
        """The plain sentence the summary, the terminal and the audit log carry."""
        asked = "no limit" if self.asked is None else _amount(self.asked, self.unit)
        return (
            f"{self.key}: the repository asked for {asked}; capped at {_amount(self.capped_at, self.unit)} "
            "by the admin policy (a repository can only lower the admin's maxima)"
        )


def _amount(value: float, unit: str) -> str:
    whole = math.isfinite(value) and value == int(value) and abs(value) < 1e15
    number = str(int(value)) if whole else f"{value:g}"
    return f"{number} {unit}" if unit else number


@dataclass(frozen=True)
class GateSettings:
    """The gates' configuration, as resolved from the repository's config file (base revision) and --config."""

    ruff: bool = True
    tests_command: str = "python -m pytest"
    tests_timeout: float = 600.0
    setup_command: str = ""  # run once per head before its tests; "" = the default setup (if setup_auto)
    setup_auto: bool = True  # the default setup: generated version files, extensions built in place
    setup_timeout: float = 600.0
    commands: tuple[CommandGate, ...] = ()
    protected_add: tuple[str, ...] = ()
    protected_remove: tuple[str, ...] = ()
    scrub_env: tuple[str, ...] = ()  # extra variable names or globs whose values are secrets (redacted in reports)
    pass_env: tuple[str, ...] = ()  # host environment variables PR code may see, by exact name (an allowlist)
    limits: JailLimits = field(default_factory=JailLimits)
    max_patch_bytes: int = 512_000
    capped: tuple[Capped, ...] = ()  # what the admin's GateCeiling lowered (bot.config.Gates.settings)


# --- pull requests and suggestions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PullRequest:
    """A pull request as the core sees it: a local git repository, a base and a head revision."""

    repo: Path
    base: str  # revision as given (ref or sha)
    head: str
    repo_name: str | None = None  # owner/name, used by the policy's repo globs
    number: int | None = None
    title: str = ""
    body: str = ""
    base_sha: str = ""
    head_sha: str = ""


@dataclass(frozen=True)
class ReviewComment:
    """A comment on a line (or range) of the new side of the PR's diff, optionally carrying replacement code.

    ``start_line``..``line`` are 1-based lines of the file at the PR head. ``replacement`` (when not None) replaces
    exactly those lines and becomes a committable ```suggestion block. Once gated, ``replacement`` is the exact new
    text of those lines read from the effective change (line endings included) and ``original`` their exact text
    at the head; before that, ``original`` is what the model said the lines are (or None).
    """

    path: str
    line: int
    body: str
    start_line: int | None = None
    replacement: str | None = None
    original: str | None = None


@dataclass(frozen=True)
class Suggestion:
    """What a model proposed, turned into something the gates can check.

    ``patch`` is a unified diff against the PR head (empty for a review with no code change); ``comments`` are the
    review comments (for the ``review`` purpose), whose replacements are also contained in ``patch``.
    """

    purpose: Purpose
    patch: str
    comments: tuple[ReviewComment, ...] = ()
    summary: str = ""
    edit_format: str = ""  # "unified-diff", "search-replace", "whole-block", "review-json"...


# --- models and policy -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateConfig:
    """A model's chat template as the admin's policy pins it (``template:`` of a model).

    Exactly one source: ``name`` (a built-in: chatml, llama3, mistral), ``jinja`` (the template text, inline or read
    from ``file`` when the policy was loaded), or ``runtime`` (the template the GGUF or the server carries). The
    special tokens and stops override what the source says (``None`` / empty: keep it).
    """

    name: str | None = None
    jinja: str | None = None
    file: str | None = None  # where ``jinja`` was read from, as written in the policy (for the label)
    runtime: bool = False
    bos_token: str | None = None
    eos_token: str | None = None
    add_bos: bool | None = None  # True: the runtime prepends BOS to a raw prompt (GGUF tokenizer.ggml.add_bos_token)
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    """One model the admin's policy names: how to reach it and where the code goes when it is asked."""

    name: str  # the policy's name for it, e.g. "coder-local"
    backend: str  # "openai" | "ollama" | "anthropic" | "llamacpp"
    model: str  # the backend's model id, or a GGUF path for llamacpp ("" = the embedded default)
    location: Location
    url: str = ""
    api_key_env: str | None = None
    context_length: int = 8192
    max_output_tokens: int = 1024
    timeout: float = 120.0
    retries: int = 2
    temperature: float = 0.0
    seed: int = 0
    template: TemplateConfig | None = None  # the pinned chat template; None: the backend's default
    template_check: bool = False  # run template-check's quick checks when the model is first used in a process


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class Completion:
    """A model's reply with its accounting."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    model: str = ""  # what the server says answered
    finish_reason: str = ""
    prompt_sha256: str = ""  # sha256 of the exact prompt text sent, when Guardrail rendered it (raw prompts only)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Exclusion:
    """A model the policy left out for one repository and purpose, and why."""

    model: str
    reason: str


@dataclass(frozen=True)
class Resolution:
    """The ordered candidates for one repository and purpose, and every model left out with its reason."""

    purpose: Purpose
    repo_name: str | None
    candidates: tuple[ModelSpec, ...]
    excluded: tuple[Exclusion, ...] = ()
    cloud_allowed: bool = False
    local_only: bool = False
    post_without_fix: bool = False  # admin: a suggestion that fixes none of the head's failing tests may be posted


# --- outcomes --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One candidate model's try: asked, parsed, gated; and why it lost if it did."""

    model: str
    backend: str
    location: Location
    status: AttemptStatus
    reason: str | None = None
    gates: tuple[GateResult, ...] = ()
    seconds: float = 0.0
    tokens: int = 0
    prompt_sha256: str = ""
    reply_sha256: str = ""
    template: str = ""
    suggestion: Suggestion | None = None
    replies: tuple[str, ...] = ()  # the model's raw replies, in order (the first ask, then the re-ask if any)


@dataclass(frozen=True)
class Outcome:
    """The result of one pipeline run on one pull request and purpose."""

    pr: PullRequest
    purpose: Purpose
    posted: bool
    winner: str | None
    attempts: tuple[Attempt, ...] = ()
    suggestion: Suggestion | None = None
    dropped: tuple[str, ...] = ()  # review comments not posted, with the reason, for the summary
    notes: tuple[str, ...] = field(default=())  # e.g. "cloud fallback disabled by policy"

    @property
    def winning_attempt(self) -> Attempt | None:
        for attempt in self.attempts:
            if attempt.status == "accepted":
                return attempt
        return None


# --- GitHub (what crosses the port; PyGithub objects never leave the adapter) ----------------------------------

Side = Literal["LEFT", "RIGHT"]
AnnotationLevel = Literal["notice", "warning", "failure"]
CheckConclusion = Literal["success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required"]


@dataclass(frozen=True)
class PullInfo:
    """What the reporters and the Action need to know of a pull request on GitHub."""

    repo_name: str  # owner/name of the base repository
    number: int
    base_ref: str
    base_sha: str
    head_ref: str
    head_sha: str
    head_repo_name: str  # differs from repo_name for a fork PR
    title: str = ""
    body: str = ""
    draft: bool = False
    updated_at: datetime | None = None  # GitHub's updated_at (UTC); a push to the head moves it

    @property
    def is_fork(self) -> bool:
        return self.head_repo_name != self.repo_name


@dataclass(frozen=True)
class DraftReviewComment:
    """One inline comment of a review to create: ``start_line``..``line`` on ``side`` of the PR's diff."""

    path: str
    line: int
    body: str
    side: Side = "RIGHT"
    start_line: int | None = None
    start_side: Side | None = None


@dataclass(frozen=True)
class PostedComment:
    """An issue (conversation) comment or a review already on GitHub."""

    id: int
    body: str
    author: str = ""
    commit_id: str = ""  # reviews only


@dataclass(frozen=True)
class Annotation:
    path: str
    start_line: int
    end_line: int
    level: AnnotationLevel
    message: str
    title: str = ""


@dataclass(frozen=True)
class CheckRunRef:
    id: int
    name: str
    head_sha: str
    external_id: str = ""
