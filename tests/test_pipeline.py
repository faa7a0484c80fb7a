"""The pipeline over real HTTP: scripted model servers on 127.0.0.1, the demo repository, the real parser.

These tests use review replies whose comments carry no code (nothing for the gates to run), so they stay fast;
the gate-running flows (a local patch failing the tests, the cloud fallback) are in tests/commands/test_review_cli.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot import pipeline
from bot.audit import AuditLog
from bot.cli import main
from bot.errors import ReplyParseError
from bot.models.base import ChatModel, estimate_tokens
from bot.models.http import RetryPolicy
from bot.models.registry import create_model
from bot.parse import parse_reply
from bot.prompts import build_messages
from bot.router import gate_reason
from bot.templates import builtin
from bot.types import (
    Finding,
    GateResult,
    GateSettings,
    ModelSpec,
    Outcome,
    PullRequest,
    Resolution,
    TemplateConfig,
    Verdict,
)
from checks import worktree
from tests.demo_pr import NOT_PARSEABLE, REVIEW_TEXT_ONLY, REVIEW_WITH_FIX, build_demo
from tests.fakes.model_servers import FakeAnthropic, FakeOllama, FakeOpenAI, Reply

Servers = tuple[FakeOllama, FakeOpenAI, FakeAnthropic]
ENV = {"ANTHROPIC_API_KEY": "test-key"}
FAST = RetryPolicy(base_delay=0.001, max_delay=0.01)


class Factory:
    """Builds real backends for the specs it is given and remembers which ones it was asked for."""

    def __init__(self) -> None:
        self.built: list[str] = []

    def __call__(self, spec: ModelSpec) -> ChatModel:
        self.built.append(spec.name)
        return create_model(spec, env=ENV, retry=FAST)


def _no_gates(*args: object, **kwargs: object) -> Verdict:
    raise AssertionError("a review with no code change must not reach the gates")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo") / "repo")


@pytest.fixture
def servers() -> Iterator[Servers]:
    with FakeOllama() as ollama, FakeOpenAI() as openai, FakeAnthropic() as anthropic:
        yield ollama, openai, anthropic


def _run(
    demo: Path,
    candidates: tuple[ModelSpec, ...],
    tmp_path: Path,
    *,
    cloud_allowed: bool = True,
    factory: Factory | None = None,
) -> Outcome:
    resolution = Resolution("review", None, candidates, cloud_allowed=cloud_allowed)
    pr = PullRequest(repo=demo, base="main", head="pr", title="Compute factorial with a loop")
    return pipeline.run(
        pr,
        "review",
        resolution=resolution,
        gate_settings=GateSettings(),
        model_factory=factory or Factory(),
        gates=_no_gates,
        audit=AuditLog(tmp_path / "audit.sqlite3"),
    )


def _logged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[tuple[str, str, str | None]]:
    """The attempts of the latest run, as `guardrail log --json` shows them: (model, status, reason)."""
    assert main(["log", "--json", "--limit", "1", "--audit-db", str(tmp_path / "audit.sqlite3")]) == 0
    [run] = json.loads(capsys.readouterr().out)
    return [(a["model"], a["status"], a["reason"]) for a in run["attempts"]]


def _texts(request_json: dict[str, object]) -> str:
    messages = request_json["messages"]
    assert isinstance(messages, list)
    return "\n".join(str(m["content"]) for m in messages)


def test_a_malformed_reply_is_asked_again_once_with_the_reason_then_accepted(
    demo: Path, servers: Servers, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ollama, _, _ = servers
    ollama.script(Reply(NOT_PARSEABLE), Reply(REVIEW_TEXT_ONLY))
    diff = worktree.diff(demo, "main", "pr")
    with pytest.raises(ReplyParseError) as first_error:
        parse_reply("review", NOT_PARSEABLE, lambda p: worktree.read_file_at(demo, "pr", p), pr_diff=diff)

    outcome = _run(demo, (ollama.model_spec(name="coder-local", retries=0),), tmp_path)

    assert len(ollama.chat_requests) == 2
    second = _texts(ollama.chat_requests[1].json)
    assert str(first_error.value) in second
    assert NOT_PARSEABLE in second  # the model sees what it answered
    assert outcome.posted and outcome.winner == "coder-local"
    [attempt] = outcome.attempts
    assert attempt.status == "accepted"
    assert [(g.name, g.status) for g in attempt.gates] == [("gates", "skipped")]
    assert outcome.suggestion is not None and outcome.suggestion.comments[0].path == "mathkit/core.py"
    assert _logged(tmp_path, capsys) == [("coder-local", "accepted", None)]


def test_two_malformed_replies_lose_with_the_parse_reason_and_the_next_candidate_is_asked(
    demo: Path, servers: Servers, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ollama, openai, _ = servers
    ollama.script(Reply(NOT_PARSEABLE), Reply(NOT_PARSEABLE))
    openai.script(Reply(REVIEW_TEXT_ONLY))
    candidates = (ollama.model_spec(name="first", retries=0), openai.model_spec(name="second", retries=0))

    outcome = _run(demo, candidates, tmp_path)

    first, second = outcome.attempts
    assert len(ollama.chat_requests) == 2
    assert first.status == "rejected"
    assert (
        first.reason is not None and first.reason.startswith("parse: ") and first.reason.endswith("(after one retry)")
    )
    assert (second.status, outcome.winner) == ("accepted", "second")
    assert _logged(tmp_path, capsys) == [("first", "rejected", first.reason), ("second", "accepted", None)]


def test_a_timeout_is_an_error_attempt_and_the_next_candidate_wins(
    demo: Path, servers: Servers, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ollama, openai, _ = servers
    ollama.script(FakeOllama.slow(5, Reply(REVIEW_TEXT_ONLY)))
    openai.script(Reply(REVIEW_TEXT_ONLY))
    slow = ollama.model_spec(name="slow-local", timeout=0.5, retries=0)

    outcome = _run(demo, (slow, openai.model_spec(name="quick-local", retries=0)), tmp_path)

    timed_out, winner = outcome.attempts
    assert timed_out.status == "error"
    assert timed_out.reason is not None and timed_out.reason.startswith("error: ModelTimeout: ")
    assert timed_out.seconds < 4
    assert (winner.model, winner.status, outcome.winner) == ("quick-local", "accepted", "quick-local")
    assert _logged(tmp_path, capsys) == [("slow-local", "error", timed_out.reason), ("quick-local", "accepted", None)]


def test_a_prompt_that_cannot_fit_is_skipped_with_the_reason_and_never_sent(
    demo: Path, servers: Servers, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ollama, openai, _ = servers
    openai.script(Reply(REVIEW_TEXT_ONLY))
    tiny = ollama.model_spec(name="tiny-context", context_length=300, max_output_tokens=256)

    outcome = _run(demo, (tiny, openai.model_spec(name="roomy", retries=0)), tmp_path)

    skipped, winner = outcome.attempts
    assert ollama.chat_requests == []
    assert skipped.status == "skipped"
    assert skipped.reason is not None and skipped.reason.startswith("skipped: context: ")
    assert (winner.status, outcome.winner) == ("accepted", "roomy")
    assert _logged(tmp_path, capsys) == [("tiny-context", "skipped", skipped.reason), ("roomy", "accepted", None)]


def test_a_prompt_a_little_too_long_is_cut_to_fit_and_the_summary_says_what_was_cut(
    demo: Path, servers: Servers, tmp_path: Path
) -> None:
    ollama, _, _ = servers
    ollama.script(Reply(REVIEW_TEXT_ONLY))
    diff = worktree.diff(demo, "main", "pr")
    full = build_messages(
        "review",
        pr_title="Compute factorial with a loop",
        pr_body="",
        diff=diff,
        files=pipeline.changed_sources(pipeline.resolve_revisions(PullRequest(demo, "main", "pr")), diff),
        budget_tokens=10**6,
        count_tokens=estimate_tokens,
    )
    snug = ollama.model_spec(name="snug", context_length=full.tokens - 1 + 256, max_output_tokens=256, retries=0)

    outcome = _run(demo, (snug,), tmp_path)

    assert outcome.winner == "snug"
    cut_notes = [n for n in outcome.notes if n.startswith("snug: the prompt was cut to fit its context (")]
    assert len(cut_notes) == 1, outcome.notes
    sent = _texts(ollama.chat_requests[0].json)
    assert len(sent) < sum(len(m.content) for m in full.messages)


def test_a_cloud_candidate_is_never_built_when_the_resolution_forbids_the_cloud(
    demo: Path, servers: Servers, tmp_path: Path
) -> None:
    ollama, _, anthropic = servers
    ollama.script(Reply(NOT_PARSEABLE), Reply(NOT_PARSEABLE))
    factory = Factory()
    candidates = (ollama.model_spec(name="coder-local", retries=0), anthropic.model_spec(name="coder-cloud"))

    outcome = _run(demo, candidates, tmp_path, cloud_allowed=False, factory=factory)

    assert anthropic.requests == []
    assert factory.built == ["coder-local"]
    assert [a.model for a in outcome.attempts] == ["coder-local"]
    assert not outcome.posted and outcome.winner is None
    assert any("coder-cloud not asked" in note for note in outcome.notes)


def test_every_model_failing_is_recorded_and_nothing_is_posted(demo: Path, servers: Servers, tmp_path: Path) -> None:
    ollama, _, _ = servers
    ollama.default = FakeOllama.server_error(503)

    outcome = _run(demo, (ollama.model_spec(name="down", retries=0),), tmp_path)

    [attempt] = outcome.attempts
    assert attempt.status == "error" and attempt.reason is not None and attempt.reason.startswith("error: ")
    assert not outcome.posted
    log = AuditLog(tmp_path / "audit.sqlite3")
    [run] = log.runs(5)
    assert (run.posted, run.winner) == (False, None)
    assert [(a.model, a.status) for a in log.attempts(run.id)] == [("down", "error")]


def test_a_pull_request_that_changes_nothing_asks_no_model(demo: Path, servers: Servers, tmp_path: Path) -> None:
    ollama, _, _ = servers
    resolution = Resolution("review", None, (ollama.model_spec(),))
    pr = PullRequest(repo=demo, base="main", head="main")

    outcome = pipeline.run(
        pr, "review", resolution=resolution, gate_settings=GateSettings(), model_factory=Factory(), gates=_no_gates
    )

    assert ollama.requests == [] and outcome.attempts == () and not outcome.posted
    assert any("changes nothing" in note for note in outcome.notes)


def test_a_rejection_names_the_failing_gate_and_what_it_found() -> None:
    tests_failed = GateResult(
        "tests", "fail", "2 test(s) broken", (
            Finding("tests/test_x.py", 3, "test", "tests.test_x::test_y: assert 1 == 2 (was passed)"),
            Finding("tests/test_x.py", 9, "test", "tests.test_x.TestZ::test_w: boom (was passed)"),
        ),
    )  # fmt: skip
    ruff_failed = GateResult(
        "ruff", "fail", "1 new finding", (Finding("pkg/a.py", 1, "F401", "`os` imported but unused"),)
    )
    could_not_run = GateResult("tests", "error", "no tests were collected")

    assert gate_reason(Verdict(False, "tests", (GateResult("ruff", "pass", ""), tests_failed))) == (
        "gate tests failed: tests/test_x.py::test_y; tests/test_x.py::TestZ::test_w"
    )
    assert gate_reason(Verdict(False, "ruff", (ruff_failed,))) == (
        "gate ruff failed: F401 pkg/a.py:1 `os` imported but unused"
    )
    assert gate_reason(Verdict(False, "tests", (could_not_run,))) == "gate tests could not run: no tests were collected"


@pytest.mark.parametrize("backend", ["ollama", "openai", "anthropic"])
def test_a_reply_cut_off_at_the_token_limit_is_asked_again_on_every_backend(
    backend: str, demo: Path, servers: Servers, tmp_path: Path
) -> None:
    """Ollama says done_reason "length", OpenAI finish_reason "length", Anthropic stop_reason "max_tokens": each
    reaches the parser as "length", and a complete-looking but cut-off reply is re-asked, never used."""
    server = dict(zip(("ollama", "openai", "anthropic"), servers, strict=True))[backend]
    server.script(Reply(REVIEW_TEXT_ONLY, finish_reason="length"), Reply(REVIEW_TEXT_ONLY))
    outcome = _run(demo, (server.model_spec(name="m", retries=0),), tmp_path)
    assert len(server.chat_requests) == 2
    assert "cut off at the output token limit (finish reason `length`)" in _texts(server.chat_requests[1].json)
    assert outcome.posted and outcome.attempts[0].status == "accepted"


def test_a_reply_cut_off_twice_loses_with_the_reason(demo: Path, servers: Servers, tmp_path: Path) -> None:
    ollama, _, _ = servers
    ollama.script(Reply(REVIEW_TEXT_ONLY, finish_reason="length"), Reply(REVIEW_TEXT_ONLY, finish_reason="length"))
    outcome = _run(demo, (ollama.model_spec(name="m", retries=0),), tmp_path)
    [attempt] = outcome.attempts
    assert not outcome.posted and attempt.status == "rejected"
    assert attempt.reason is not None and "finish reason `length`" in attempt.reason


@pytest.mark.parametrize(
    ("backend", "wire_reason"),
    [
        ("openai", "content_filter"),  # part of the text was filtered out
        ("openai", "max_tokens"),  # a proxy passing Anthropic's word through unmapped
        ("openai", "MAX_TOKENS"),  # Gemini's word
        ("anthropic", "model_context_window_exceeded"),
        ("anthropic", "refusal"),
        ("anthropic", "pause_turn"),
    ],
)
def test_a_reply_that_did_not_end_with_a_normal_stop_is_asked_again_never_used(
    backend: str, wire_reason: str, demo: Path, servers: Servers, tmp_path: Path
) -> None:
    """Any finish reason that is not a normal stop means the text may not be the whole answer: fail closed."""
    server = dict(zip(("ollama", "openai", "anthropic"), servers, strict=True))[backend]
    cut = Reply(REVIEW_TEXT_ONLY, finish_reason=wire_reason)
    server.script(cut, cut)
    outcome = _run(demo, (server.model_spec(name="m", retries=0),), tmp_path)
    [attempt] = outcome.attempts
    assert len(server.chat_requests) == 2
    assert not outcome.posted and attempt.status == "rejected"
    assert attempt.reason is not None and "finish reason" in attempt.reason


def _gates_returning(effective: str) -> Callable[..., Verdict]:
    def gates(*args: object, **kwargs: object) -> Verdict:
        return Verdict(True, None, (GateResult("apply", "pass", "applied"),), patch=effective)

    return gates


@pytest.mark.parametrize(
    ("effective", "reason"),
    [
        ("", "gated: no effective change"),
        (
            "diff --git a/mathkit/core.py b/mathkit/core.py\n--- a/mathkit/core.py\n+++ b/mathkit/core.py\n"
            "@@ -1 +1 @@\n-x\n+y\n",
            "gated: the gated change of mathkit/core.py touches lines that no comment's suggestion covers",
        ),
    ],
)
def test_an_accepted_verdict_whose_effective_change_is_not_the_comments_is_not_posted(
    demo: Path, servers: Servers, tmp_path: Path, effective: str, reason: str
) -> None:
    ollama, _, _ = servers
    ollama.script(Reply(REVIEW_WITH_FIX))
    resolution = Resolution("review", None, (ollama.model_spec(name="m", retries=0),), cloud_allowed=False)
    pr = PullRequest(repo=demo, base="main", head="pr")
    outcome = pipeline.run(
        pr,
        "review",
        resolution=resolution,
        gate_settings=GateSettings(),
        model_factory=Factory(),
        gates=_gates_returning(effective),
    )
    [attempt] = outcome.attempts
    assert not outcome.posted and (attempt.status, attempt.reason) == ("rejected", reason)


def test_a_pinned_template_puts_its_hash_and_the_sent_prompts_hash_in_the_outcome_and_the_audit_log(
    demo: Path, servers: Servers, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, openai, _ = servers
    openai.script(Reply(REVIEW_TEXT_ONLY))
    pinned = openai.model_spec(name="pinned-local", template=TemplateConfig(name="chatml"))

    outcome = _run(demo, (pinned,), tmp_path)

    [attempt] = outcome.attempts
    [request] = openai.raw_requests
    sent = request.json["prompt"]
    assert sent.startswith("<|im_start|>system\n") and sent.endswith("<|im_start|>assistant\n")
    assert attempt.prompt_sha256 == hashlib.sha256(sent.encode()).hexdigest()
    assert attempt.template == f"chatml sha256:{builtin('chatml').sha256}"
    assert main(["log", "--json", "--limit", "1", "--audit-db", str(tmp_path / "audit.sqlite3")]) == 0
    [logged] = json.loads(capsys.readouterr().out)[0]["attempts"]
    assert (logged["template"], logged["prompt_sha256"]) == (attempt.template, attempt.prompt_sha256)
