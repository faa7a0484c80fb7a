"""The quick checks (1 to 3): rendering, tokenization, generation and system prompt. They generate at most one token
each, so the router can run them when a model is first used."""

from __future__ import annotations

from bot.templates import ChatTemplate, TemplateRefused
from bot.templates.check.conversations import REFUSED, RENDERED, Conversation
from bot.templates.check.findings import SPECIAL_PATTERN, Finding, Subject, explain, leading, visible_diff
from bot.templates.check.runtime import Runtime, RuntimeRefused, Unsupported

_NO_REFERENCE = (
    "no reference: Guardrail does not render this model's template (the server does); pin it in the policy "
    "(template: {file: ...}, or {from: runtime} on llamacpp) so the runtime's rendering can be compared"
)


def _render(template: ChatTemplate, conversation: Conversation) -> str | None:
    try:
        return template.render(conversation.messages, add_generation_prompt=conversation.add_generation_prompt)
    except TemplateRefused:
        return None


def _runtime_render(runtime: Runtime, conversation: Conversation) -> str | None:
    try:
        return runtime.render(conversation.messages, add_generation_prompt=conversation.add_generation_prompt)
    except RuntimeRefused:
        return None


def check_rendering(subject: Subject) -> list[Finding]:
    """1: the runtime's own rendering of each conversation, byte for byte against Guardrail's."""
    reference = subject.reference
    if reference is None:
        return [Finding(1, "skip", _NO_REFERENCE)]
    differences: dict[str, tuple[list[str], str]] = {}  # cause -> (conversations, the first one's diff)
    compared = 0
    for conversation in (*RENDERED, *REFUSED):
        expected = _render(reference, conversation)
        try:
            actual = _runtime_render(subject.runtime, conversation)
        except Unsupported as exc:
            if conversation in REFUSED or not conversation.add_generation_prompt:
                continue
            return [Finding(1, "skip", f"{exc}; check 3 compares token counts instead")]
        compared += 1
        if expected == actual:
            continue
        diff = ""
        if expected is None:
            cause = "Guardrail's template refuses it but the runtime renders it"
        elif actual is None:
            cause = "the runtime refuses it but Guardrail's template renders it"
        else:
            cause = explain(expected, actual, reference, conversation.messages, conversation.add_generation_prompt)
            diff = visible_diff(expected, actual)
        differences.setdefault(cause, ([], diff))[0].append(repr(conversation.name))
    if not differences:
        return [Finding(1, "pass", f"{compared} conversations rendered byte for byte as Guardrail renders them")]
    return [
        Finding(1, "fail", f"{cause} (in {', '.join(names)})", diff) for cause, (names, diff) in differences.items()
    ]


def _bos_id(runtime: Runtime, reference: ChatTemplate, added: list[int]) -> int | None:
    if runtime.info.bos_id is not None:
        return runtime.info.bos_id
    if added:
        return added[0]
    if reference.bos_token:
        ids = runtime.tokenize(reference.bos_token)
        return ids[-1] if len(ids) == 1 else None
    return None


def check_tokenization(subject: Subject) -> list[Finding]:
    """2: the prompt as the runtime tokenizes it: exactly the BOS the model wants, special markers as one token."""
    reference = subject.reference
    if reference is None:
        return [Finding(2, "skip", _NO_REFERENCE)]
    runtime = subject.runtime
    conversation = RENDERED[0]
    rendered = reference.render(conversation.messages)
    bos = reference.bos_token
    findings: list[Finding] = []
    if bos and leading(rendered, bos) > 1:
        findings.append(Finding(2, "fail", f"doubled BOS: Guardrail's template renders {bos!r} twice at the start"))
    try:
        added = runtime.tokenize("")  # what the runtime puts in front of any raw prompt: its BOS, or nothing
    except Unsupported as exc:
        return [*findings, Finding(2, "skip", f"{exc}; only the rendered text was checked")]
    bos_id = _bos_id(runtime, reference, added)
    ids = runtime.tokenize(reference.raw_prompt(conversation.messages))
    wanted = 1 if reference.add_bos or (bos and rendered.startswith(bos)) else 0
    got = 0
    while bos_id is not None and got < len(ids) and ids[got] == bos_id:
        got += 1
    if got > 1 and not findings:
        cause = (
            "the template renders BOS and the runtime adds one too; set add_bos: true on the template (Guardrail "
            "then leaves it out of the text)"
            if added and not reference.add_bos
            else "the template renders BOS more than once"
        )
        findings.append(Finding(2, "fail", f"doubled BOS: the runtime reads {got} BOS tokens (id {bos_id}): {cause}"))
    elif got < wanted and got <= 1:
        findings.append(
            Finding(
                2,
                "fail",
                f"missing BOS: the model wants {bos!r} first, but the runtime reads none (add_bos is "
                f"{reference.add_bos}; the runtime {'adds' if added else 'does not add'} one to a raw prompt)",
            )
        )
    elif wanted < got <= 1:
        findings.append(Finding(2, "fail", f"the runtime prepends a BOS (id {bos_id}) the template does not expect"))
    findings += _marker_findings(subject, reference, runtime, len(added))
    if not findings:
        findings.append(
            Finding(2, "pass", f"{len(ids)} tokens, {got} BOS as the model wants; every special marker is one token")
        )
    return findings


def _marker_findings(subject: Subject, reference: ChatTemplate, runtime: Runtime, added: int) -> list[Finding]:
    texts = [text for c in RENDERED if (text := _render(reference, c)) is not None]
    markers = {m for text in texts for m in SPECIAL_PATTERN.findall(text)}
    markers |= {reference.bos_token, reference.eos_token}
    markers |= {s for s in reference.stop_sequences() if SPECIAL_PATTERN.fullmatch(s) or s in ("<s>", "</s>")}
    findings = []
    for marker in sorted(m for m in markers if m):
        pieces = len(runtime.tokenize(marker)) - added
        if pieces == 1:
            continue
        stops = marker == reference.eos_token or marker in reference.stop_sequences()
        consequence = (
            ": it is the template's EOS/stop, so a stop on it never fires and replies run to the length limit (a wrong "
            "eos_token or stop for this model)"
            if stops
            else ": the model reads it as plain text (a template written for another model?)"
        )
        findings.append(
            Finding(
                2,
                "fail",
                f"special marker {marker!r} is split into {pieces} tokens by {subject.name}'s tokenizer{consequence}",
            )
        )
    return findings


def check_prompts(subject: Subject) -> list[Finding]:
    """3: the generation prompt present, the model's default system prompt kept."""
    reference = subject.reference
    if reference is None:
        return [Finding(3, "skip", _NO_REFERENCE)]
    runtime = subject.runtime
    user_only = RENDERED[1]
    try:
        with_prompt = runtime.render(user_only.messages, add_generation_prompt=True)
    except Unsupported:
        return _by_token_counts(subject, reference)
    findings = []
    ours = reference.generation_prompt()
    try:
        without = runtime.render(user_only.messages, add_generation_prompt=False)
        theirs = with_prompt[len(without) :] if with_prompt.startswith(without) else None
    except Unsupported:
        theirs = ours if with_prompt.endswith(ours) and ours else None
    if theirs is not None and theirs != ours:
        cause = "Guardrail's template drops the generation prompt" if not ours else "the generation prompts differ"
        findings.append(
            Finding(
                3, "fail", f"{cause}: Guardrail appends {ours!r}, the runtime {theirs!r}", visible_diff(ours, theirs)
            )
        )
    elif not ours:
        findings.append(Finding(3, "warn", "Guardrail's template appends no generation prompt"))
    expected = reference.render(user_only.messages)
    body = expected.removeprefix(reference.bos_token) if reference.bos_token else expected
    if with_prompt.endswith(body):
        prefix = with_prompt[: len(with_prompt) - len(body)]
        if "system" in prefix:
            findings.append(
                Finding(
                    3,
                    "fail",
                    f"the runtime's template adds a default system prompt that Guardrail's drops: {prefix!r}",
                    visible_diff(expected, with_prompt),
                )
            )
    if not findings:
        findings.append(Finding(3, "pass", f"generation prompt {ours!r}; no default system prompt lost"))
    return findings


def _by_token_counts(subject: Subject, reference: ChatTemplate) -> list[Finding]:
    """Check 3 for a runtime that renders nothing on request: its chat prompt's token count against ours."""
    runtime = subject.runtime
    differences = {}
    for conversation in RENDERED[:2]:
        chat = runtime.chat(conversation.messages, max_tokens=1)
        ours = len(runtime.tokenize(reference.raw_prompt(conversation.messages)))
        differences[conversation.name] = (chat.prompt_tokens, ours)
    (with_system, ours_system), (user_only, ours_user) = differences.values()
    if with_system == ours_system and user_only == ours_user:
        return [Finding(3, "pass", "the runtime's chat prompts have exactly the tokens of Guardrail's renderings")]
    findings = []
    if with_system != ours_system:
        cause = "Guardrail's template drops the generation prompt" if not reference.generation_prompt() else ""
        findings.append(
            Finding(
                3,
                "fail",
                f"the runtime's chat prompt has {with_system} tokens, Guardrail's rendering {ours_system} "
                f"({with_system - ours_system:+d}): the templates differ" + (f"; {cause}" if cause else ""),
            )
        )
    elif user_only != ours_user:
        findings.append(
            Finding(
                3,
                "fail",
                f"without a system message the runtime's chat prompt has {user_only - ours_user:+d} tokens more than "
                "Guardrail's: the runtime's template adds a default system prompt that Guardrail's drops",
            )
        )
    return findings
