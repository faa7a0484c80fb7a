"""The checks that generate (4 to 7): stop probes, raw against chat, across runtimes, context.

Each probe is generated once per path and kept in ``Subject.generations``: ``raw`` is Guardrail's rendering sent as
a raw prompt (what Guardrail sends when it renders the template), ``chat`` is the runtime's own chat endpoint.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.templates.check.conversations import PROBE_TOKENS, PROBES, RENDERED, Conversation, overflow
from bot.templates.check.findings import REASONING_MARKERS, Finding, Status, Subject, markers_in, visible_diff
from bot.templates.check.runtime import Generation, RuntimeRefused, Unsupported
from bot.templates.check.servers import is_overflow


def generate(subject: Subject, path: str, conversation: Conversation, max_tokens: int = PROBE_TOKENS) -> Generation:
    """The reply to ``conversation`` on ``path`` (``raw`` or ``chat``), generated once and kept."""
    key = (path, conversation.name)
    if key not in subject.generations:
        runtime = subject.runtime
        if path == "raw":
            reference = subject.reference
            assert reference is not None
            prompt = reference.raw_prompt(conversation.messages)
            reply = runtime.raw(prompt, max_tokens=max_tokens, stop=reference.stop_sequences())
        else:
            reply = runtime.chat(conversation.messages, max_tokens=max_tokens)
        subject.generations[key] = reply
    return subject.generations[key]


def paths(subject: Subject) -> tuple[str, ...]:
    """Guardrail's path first: ``raw`` when it renders the template, then the runtime's ``chat``."""
    return ("raw", "chat") if subject.reference is not None else ("chat",)


def check_stops(subject: Subject) -> list[Finding]:
    """4: short prompts end on a stop token, not the length limit, with no role marker or reasoning in the reply."""
    findings = []
    extra = [subject.reference.eos_token] if subject.reference else []
    guardrail_path = "raw" if subject.raw else "chat"
    for path in paths(subject):
        status: Status = "fail" if path == guardrail_path else "warn"  # a path Guardrail does not use only warns
        for probe in PROBES:
            try:
                reply = generate(subject, path, probe)
            except RuntimeRefused as exc:
                findings.append(Finding(4, status, f"{path} {probe.name!r}: the runtime refused: {exc}"))
                continue
            where = f"{path} {probe.name!r}"
            leaked = [m for m in REASONING_MARKERS if m in reply.text]
            markers = [m for m in markers_in(reply.text, extra) if m not in leaked]
            if leaked:
                findings.append(
                    Finding(4, status, f"{where}: a reasoning block leaked into the answer ({', '.join(leaked)})")
                )
            if markers:
                findings.append(
                    Finding(
                        4,
                        status,
                        f"{where}: literal role markers in the reply ({', '.join(markers)}): the stop "
                        f"token did not stop it; reply: {reply.text[:120]!r}",
                    )
                )
            if reply.finish_reason != "stop":
                findings.append(
                    Finding(
                        4,
                        status,
                        f"{where}: did not stop within {PROBE_TOKENS} tokens (finish reason "
                        f"{reply.finish_reason!r}): a stop token that never fires, or a missing generation "
                        f"prompt; reply: {reply.text[:120]!r}",
                    )
                )
    if not findings:
        findings.append(
            Finding(4, "pass", f"{len(PROBES)} short prompts ended on a stop token on {'/'.join(paths(subject))}")
        )
    return findings


def check_raw_equals_chat(subject: Subject) -> list[Finding]:
    """5: at temperature 0 with the cache controlled, Guardrail's raw prompt gets the runtime's own chat reply."""
    if subject.reference is None:
        return [Finding(5, "skip", "no reference template: Guardrail sends this model chat messages, not raw prompts")]
    findings = []
    for probe in PROBES:
        try:
            raw, chat = generate(subject, "raw", probe), generate(subject, "chat", probe)
        except RuntimeRefused as exc:
            findings.append(Finding(5, "fail", f"{probe.name!r}: the runtime refused: {exc}"))
            continue
        if raw.text == chat.text:
            continue
        if raw.prompt_tokens != chat.prompt_tokens:
            cause = f"the prompts differ ({raw.prompt_tokens} tokens raw, {chat.prompt_tokens} through chat)"
        else:
            cause = f"the same prompt length ({raw.prompt_tokens} tokens) but a different reply"
        findings.append(
            Finding(5, "fail", f"{probe.name!r}: {cause}", visible_diff(raw.text, chat.text, left="raw", right="chat"))
        )
    if not findings:
        findings.append(
            Finding(5, "pass", f"{len(PROBES)} prompts: raw completion == chat completion, token for token")
        )
    return findings


def check_across(subjects: Sequence[Subject]) -> dict[str, list[Finding]]:
    """6: the same probes greedy-decoded on every runtime serving the same weights; the first divergent token.

    A difference whose prompts differ in length is a template difference (a failure); the same prompt decoded to a
    different reply is numerical drift (a warning: other kernels, other batch sizes)."""
    found: dict[str, list[Finding]] = {s.name: [] for s in subjects}
    groups: dict[str, list[Subject]] = {}
    for subject in subjects:
        groups.setdefault(subject.runtime.info.weights.lower(), []).append(subject)
    for group in groups.values():
        if len(group) < 2:
            for subject in group:
                found[subject.name].append(Finding(6, "skip", "no other runtime serving the same weights was given"))
            continue
        base = group[0]
        for other in group[1:]:
            found[other.name] += _compare(base, other)
            found[base.name].append(Finding(6, "pass", f"baseline for {other.name}"))
    return found


def _compare(base: Subject, other: Subject) -> list[Finding]:
    findings = []
    for path in [p for p in paths(base) if p in paths(other)]:
        for probe in PROBES:
            try:
                a, b = generate(base, path, probe), generate(other, path, probe)
            except RuntimeRefused as exc:
                findings.append(Finding(6, "fail", f"{path} {probe.name!r}: a runtime refused: {exc}"))
                continue
            if a.text == b.text:
                continue
            index, left, right = _divergence(base, a.text, b.text)
            where = f"{path} {probe.name!r}: first divergent token #{index}: {left!r} ({base.name}) vs {right!r}"
            diff = visible_diff(a.text, b.text, left=base.name, right=other.name)
            if a.prompt_tokens != b.prompt_tokens:
                message = (
                    f"{where}; a template difference: the prompts have {a.prompt_tokens} and {b.prompt_tokens} tokens"
                )
                findings.append(Finding(6, "fail", message, diff))
            else:
                message = f"{where}; numerical drift: the same {a.prompt_tokens}-token prompt"
                findings.append(Finding(6, "warn", message, diff))
    if not findings:
        findings.append(Finding(6, "pass", f"the same greedy replies as {base.name} ({base.runtime.info.label()})"))
    return findings


def _divergence(base: Subject, left: str, right: str) -> tuple[int, str, str]:
    """Where two replies part: the index of the first differing token (the tokens of their common prefix, by the
    base runtime's tokenizer where it has one, else words) and the two texts from there."""
    common = 0
    while common < min(len(left), len(right)) and left[common] == right[common]:
        common += 1
    prefix = left[:common]
    try:
        added = len(base.runtime.tokenize(""))
        index = len(base.runtime.tokenize(prefix)) - added if prefix else 0
    except Unsupported:
        index = len(prefix.split())
    return index, left[common : common + 16] or "<end>", right[common : common + 16] or "<end>"


def check_context(subject: Subject) -> list[Finding]:
    """7: the runtime's prompt token count equals Guardrail's, and a prompt over the context is refused, not cut."""
    findings = []
    path = "raw" if subject.raw else "chat"
    conversation = RENDERED[0]  # with a system message, as Guardrail's prompts always are
    try:
        reply = generate(subject, path, conversation, max_tokens=1)
        ours = subject.count_tokens(conversation.messages)
        theirs = reply.prompt_tokens
        if subject.exact_count and ours != theirs:
            findings.append(Finding(7, "fail", f"the runtime read {theirs} prompt tokens, Guardrail counted {ours}"))
        elif not subject.exact_count and ours < theirs:
            findings.append(
                Finding(
                    7,
                    "fail",
                    f"Guardrail's estimate ({ours}) is below the runtime's count ({theirs}): prompts "
                    "Guardrail thinks fit may not",
                )
            )
    except RuntimeRefused as exc:
        findings.append(Finding(7, "fail", f"the runtime refused a short prompt: {exc}"))
    findings += _overflow(subject, path)
    if not any(f.status == "fail" for f in findings):
        findings.insert(
            0, Finding(7, "pass", "prompt token counts agree" + (" exactly" if subject.exact_count else ""))
        )
    return findings


def _overflow(subject: Subject, path: str) -> list[Finding]:
    spec = subject.spec
    size = spec.context_length + spec.context_length // 4 + 16
    big = overflow(size)
    try:
        reply = generate(subject, path, big, max_tokens=1)
    except RuntimeRefused as exc:
        if is_overflow(str(exc)):
            return [Finding(7, "pass", f"a ~{size}-token prompt was refused: {str(exc)[:160]}")]
        return [Finding(7, "warn", f"a ~{size}-token prompt was refused, but not as an overflow: {str(exc)[:160]}")]
    read = reply.prompt_tokens
    if read >= size * 9 // 10:
        return [
            Finding(
                7,
                "warn",
                f"a ~{size}-token prompt was read whole ({read} tokens): the runtime's context is "
                f"larger than context_length {spec.context_length}",
            )
        ]
    hint = ""
    if subject.runtime.info.kind == "ollama /v1":
        hint = "; Ollama ignores num_ctx on its OpenAI-compatible endpoint: use backend: ollama"
    if read < spec.context_length:
        return [
            Finding(
                7,
                "fail",
                f"silent truncation: a ~{size}-token prompt was cut to {read} tokens without an "
                f"error, below context_length {spec.context_length}: prompts Guardrail thinks fit are cut{hint}",
            )
        ]
    return [
        Finding(
            7,
            "warn",
            f"a ~{size}-token prompt was cut to {read} tokens without an error (Guardrail's own "
            f"check keeps prompts under context_length {spec.context_length}){hint}",
        )
    ]
