"""One candidate's attempt: ask the model, parse its reply (re-asking once), run the gates, say why it lost.

Every way an attempt can end is an ``Attempt`` with a status and a specific reason, never an exception that stops
the walk: a model error or timeout is ``error``, a prompt that cannot fit is ``skipped``, a reply that cannot be
parsed even after one re-ask, or a patch that fails a gate, is ``rejected``. Only configuration errors (an unknown
backend, a bad environment variable) propagate, because they are not a model's fault and every later candidate
would hit them too.

A review whose comments carry no code change has nothing for the gates to break: it is accepted with one
``skipped`` gate saying so, as long as it has at least one comment on the PR's changed lines. A review with no
comments at all, and a patch with no change, are parse failures (re-asked once with that reason).

With ``Job.gate_feedback`` (the bakeoff turns it on; pull requests do not yet), a first suggestion the gates reject
is re-asked once with the gates' reason, and the new suggestion is gated in its place. An attempt never has more
than one re-ask: a reply re-asked for a parse failure is not re-asked again for the gates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.errors import ContextOverflow, GateError, ModelError, ReplyParseError
from bot.models.base import ChatModel
from bot.models.context import budget
from bot.parse import ParseResult, parse_reply
from bot.parse.effective import gated
from bot.prompts import build_messages, prompt_hash
from bot.types import (
    Attempt,
    AttemptStatus,
    ChatMessage,
    Completion,
    GateResult,
    GateSettings,
    ModelSpec,
    PullRequest,
    Purpose,
    Suggestion,
    Verdict,
)
from checks.tests import node_id

GateRunner = Callable[..., Verdict]  # checks.engine.run_gates(repo, base, head, patch, settings, *, cache_dir=None)
ModelFactory = Callable[[ModelSpec], ChatModel]
Progress = Callable[[str], None]
FileReader = Callable[[str], str | None]

NO_CODE_GATE = "gates"
MAX_FINDINGS_IN_REASON = 3


@dataclass(frozen=True)
class Job:
    """What every candidate is asked about, and how its suggestion is checked (the same for all candidates)."""

    pr: PullRequest  # base_sha and head_sha resolved
    purpose: Purpose
    diff: str
    files: Mapping[str, str]  # changed source files at the head, path -> text
    read_file: FileReader  # a file at the PR head, for the parser
    gate_settings: GateSettings
    gates: GateRunner
    clock: Callable[[], float]
    progress: Progress
    cache_dir: Path | None = None
    post_without_fix: bool = False  # admin policy: post even when the head's failing tests all still fail
    gate_feedback: bool = False  # re-ask once with the gates' findings when the first suggestion is rejected


@dataclass
class _Tally:
    """What an attempt spent and saw, kept across the first ask and the re-ask."""

    tokens: int = 0
    prompt_sha256: str = ""
    reply_sha256: str = ""
    template: str = ""
    cut: str | None = None  # what the prompt builder left out to fit the context
    replies: list[str] = field(default_factory=list)  # the raw replies, for --show-replies and the audit log


@dataclass(frozen=True)
class Tried:
    """One candidate's attempt, its parsed reply when it was accepted, and what the summary should say about it."""

    attempt: Attempt
    parsed: ParseResult | None = None
    notes: tuple[str, ...] = ()


class _ParseFailed(Exception):
    """The reply could not be used even after the re-ask."""


def try_candidate(spec: ModelSpec, job: Job, factory: ModelFactory) -> Tried:
    """Ask one candidate and gate its suggestion: the Attempt (with why it lost) and, if accepted, the parse."""
    start = job.clock()
    tally = _Tally()
    job.progress(f"asking {spec.name} ({spec.backend}, {spec.location})")

    def done(
        status: AttemptStatus,
        reason: str | None,
        gates: tuple[GateResult, ...] = (),
        suggestion: Suggestion | None = None,
        parsed: ParseResult | None = None,
    ) -> Tried:
        attempt = Attempt(
            model=spec.name,
            backend=spec.backend,
            location=spec.location,
            status=status,
            reason=reason,
            seconds=job.clock() - start,
            tokens=tally.tokens,
            prompt_sha256=tally.prompt_sha256,
            reply_sha256=tally.reply_sha256,
            template=tally.template,
            gates=gates,
            suggestion=suggestion,
            replies=tuple(tally.replies),
        )
        job.progress(f"{spec.name}: {status}" + (f": {reason}" if reason else ""))
        notes = (f"{spec.name}: the prompt was cut to fit its context ({tally.cut})",) if tally.cut else ()
        return Tried(attempt, parsed, notes)

    try:
        model = factory(spec)
    except ModelError as exc:
        return done("error", f"error: {type(exc).__name__}: {exc}")
    try:
        if model.template is not None:
            tally.template = model.template.provenance
        try:
            parsed = _ask(model, spec, job, tally)
        except ContextOverflow as exc:
            return done("skipped", f"skipped: context: {exc}")
        except _ParseFailed as exc:
            return done("rejected", f"parse: {exc} (after one retry)")
        except ModelError as exc:
            return done("error", f"error: {type(exc).__name__}: {exc}")
        suggestion = parsed.suggestion
        if not suggestion.patch.strip():
            skipped = GateResult(
                NO_CODE_GATE, "skipped", "the review's comments carry no code change: nothing to check"
            )
            return done("accepted", None, gates=(skipped,), suggestion=suggestion, parsed=parsed)
        job.progress(f"{spec.name}: running the gates on its patch")
        try:
            verdict = _run_gates(job, suggestion)
            if verdict.verdict == "reject" and job.gate_feedback and len(tally.replies) == 1:
                feedback = _feedback(model, spec, job, tally, verdict)
                if isinstance(feedback, str):
                    return done("rejected", feedback, gates=verdict.gates, suggestion=suggestion)
                parsed, suggestion = feedback, feedback.suggestion
                verdict = _run_gates(job, suggestion)
        except GateError as exc:
            return done("error", f"error: GateError: {exc}", suggestion=suggestion)
        except ModelError as exc:
            return done("error", f"error: {type(exc).__name__}: {exc}", suggestion=suggestion)
    finally:
        model.close()

    if verdict.accepted:
        if not job.post_without_fix and (why := fixes_nothing(verdict, job.purpose)):
            return done("rejected", why, gates=verdict.gates, suggestion=suggestion)
        # what is posted comes from the effective change the gates read back, never from the parser's text
        checked = gated(suggestion, verdict.patch, job.read_file) if verdict.patch.strip() else "no effective change"
        if isinstance(checked, str):
            return done("rejected", f"gated: {checked}", gates=verdict.gates, suggestion=suggestion)
        parsed = replace(parsed, suggestion=checked)
        return done("accepted", None, gates=verdict.gates, suggestion=checked, parsed=parsed)
    if verdict.verdict == "error":  # e.g. the head's own tests do not run: not this model's fault
        return done("error", f"error: {gate_reason(verdict)}", gates=verdict.gates, suggestion=suggestion)
    return done("rejected", gate_reason(verdict), gates=verdict.gates, suggestion=suggestion)


def fixes_nothing(verdict: Verdict, purpose: Purpose) -> str | None:
    """Why a suggestion that passed every gate is still not posted as a fix: the head has failing tests and it fixes
    none of them. None when it fixes one, or when the head had no failing test."""
    fixed = [f for f in verdict.evidence("fixed") if f.rule == "test"]
    still = [f for f in verdict.evidence("remaining") if f.rule == "test"]
    if fixed or not still:
        return None
    names = ", ".join(f.message.partition(": ")[0] for f in still[:MAX_FINDINGS_IN_REASON])
    more = f" and {len(still) - MAX_FINDINGS_IN_REASON} more" if len(still) > MAX_FINDINGS_IN_REASON else ""
    return (
        f"fixes none of the {len(still)} test(s) failing at the head ({names}{more} still fail): not posted as a fix "
        f"(the admin policy's purposes.{purpose}.post_without_fix allows that)"
    )


def _feedback(model: ChatModel, spec: ModelSpec, job: Job, tally: _Tally, verdict: Verdict) -> ParseResult | str:
    """The gate-feedback re-ask: the model sees why the gates rejected its suggestion and answers once more. The new
    parse, or the reason the attempt is lost (a reply that cannot be parsed, or that changes nothing)."""
    reason = gate_reason(verdict)
    job.progress(f"{spec.name}: rejected ({reason}); asking once more with the gates' findings")
    reply = _complete(model, spec, _messages(model, spec, job, tally, reason, tally.replies[-1]), tally)
    try:
        return _parse(job, reply)
    except ReplyParseError as exc:
        return f"{reason}; after the gates' feedback: parse: {exc}"


def _run_gates(job: Job, suggestion: Suggestion) -> Verdict:
    pr = job.pr
    return job.gates(pr.repo, pr.base_sha, pr.head_sha, suggestion.patch, job.gate_settings, cache_dir=job.cache_dir)


def _messages(
    model: ChatModel,
    spec: ModelSpec,
    job: Job,
    tally: _Tally,
    retry_reason: str | None = None,
    previous_reply: str | None = None,
) -> tuple[ChatMessage, ...]:
    pr = job.pr
    build = build_messages(
        job.purpose,
        pr_title=pr.title,
        pr_body=pr.body,
        diff=job.diff,
        files=job.files,
        budget_tokens=budget(model, spec.max_output_tokens),
        count_tokens=model.count_tokens,
        retry_reason=retry_reason,
        previous_reply=previous_reply,
    )
    tally.cut = build.cut
    return tuple(build.messages)


def _ask(model: ChatModel, spec: ModelSpec, job: Job, tally: _Tally) -> ParseResult:
    """The parsed suggestion, re-asking once with the parser's reason. Raises ContextOverflow, ModelError,
    _ParseFailed."""
    reply = _complete(model, spec, _messages(model, spec, job, tally), tally)
    try:
        return _parse(job, reply)
    except ReplyParseError as first:
        job.progress(f"{spec.name}: reply not usable ({first}); asking once more")
        reply = _complete(model, spec, _messages(model, spec, job, tally, str(first), reply.text), tally)
        try:
            return _parse(job, reply)
        except ReplyParseError as second:
            raise _ParseFailed(str(second)) from second


def _complete(model: ChatModel, spec: ModelSpec, messages: tuple[ChatMessage, ...], tally: _Tally) -> Completion:
    """The reply. ``prompt_sha256`` is the hash of the exact prompt text when Guardrail rendered it, else of the
    messages (the server rendered them)."""
    tally.prompt_sha256 = prompt_hash(messages)
    completion = model.complete(messages, max_tokens=spec.max_output_tokens)
    tally.prompt_sha256 = completion.prompt_sha256 or tally.prompt_sha256
    tally.tokens += completion.tokens
    tally.reply_sha256 = hashlib.sha256(completion.text.encode()).hexdigest()
    tally.replies.append(completion.text)
    return completion


def _parse(job: Job, reply: Completion) -> ParseResult:
    """The parser's result, or ReplyParseError for a suggestion with nothing in it (so it is re-asked too), or for a
    damaged reply (cut off at the token limit, an unclosed fence, only reasoning)."""
    result = parse_reply(job.purpose, reply.text, job.read_file, pr_diff=job.diff, finish_reason=reply.finish_reason)
    suggestion = result.suggestion
    if job.purpose == "patch" and not suggestion.patch.strip():
        raise ReplyParseError("the reply contains no code change; give the fix as a unified diff")
    if job.purpose == "review" and not suggestion.comments and not suggestion.patch.strip():
        dropped = f" ({'; '.join(result.dropped)})" if result.dropped else ""
        raise ReplyParseError(f"the review has no comment on a changed line of the pull request{dropped}")
    return result


def _finding_label(gate: GateResult) -> list[str]:
    labels = []
    for finding in gate.findings[:MAX_FINDINGS_IN_REASON]:
        if gate.name == "tests":  # the test gate's message is "<test id>: <what happened>"; the id says it all
            labels.append(node_id(finding.path, finding.message.partition(": ")[0]))
        elif finding.line:
            labels.append(f"{finding.rule} {finding.path}:{finding.line} {finding.message}".strip())
        else:
            labels.append(f"{finding.rule} {finding.path} {finding.message}".strip())
    more = len(gate.findings) - MAX_FINDINGS_IN_REASON
    if more > 0:
        labels.append(f"and {more} more")
    return labels


def gate_reason(verdict: Verdict) -> str:
    """ "gate tests failed: tests/test_x.py::test_y", "gate ruff failed: F401 pkg/a.py:1 ...": the first gate that
    did not pass, with its findings (or its summary when it has none)."""
    failing = [g for g in verdict.gates if g.status in ("fail", "error")]
    named = [g for g in failing if g.name == verdict.reason]
    if not failing:
        return f"gate {verdict.reason or '?'} did not pass"
    gate = (named or failing)[0]
    word = "failed" if gate.status == "fail" else "could not run"
    details = "; ".join(_finding_label(gate)) or gate.summary
    return f"gate {gate.name} {word}: {details}"
