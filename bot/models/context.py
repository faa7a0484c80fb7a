"""Does a prompt fit the model's context? Counting, the budget, and the final check.

The contract with the prompt builder (``bot.prompts``):

1. ``budget(model, reserve_output)`` is how many tokens the prompt may take: the model's ``context_length`` minus
   what is reserved for the reply (normally ``spec.max_output_tokens``).
2. ``prompt_tokens(model, messages)`` counts a whole chat the way the backend will send it: where Guardrail renders
   the template, the count of the raw prompt (exact for ``llamacpp``, an estimate over HTTP) plus the BOS the
   runtime adds; where the server renders it, the conservative estimate of every message plus a few tokens of
   per-message framing.
3. The builder cuts the diff context first, then other optional parts, until ``fits(model, messages,
   reserve_output)``; if nothing more can be cut it skips the model with the ``ContextOverflow`` message.
4. Every backend calls ``ensure_fits`` before sending, so a prompt that does not fit is never silently cut by a
   server (Ollama, for one, truncates without an error).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.errors import ContextOverflow
from bot.models.base import ChatModel
from bot.types import ChatMessage

# Chat servers wrap every message in role markers (ChatML takes 4-5 tokens per message) and prime the reply with
# a few more; counted for HTTP backends, whose framing we do not render ourselves.
MESSAGE_OVERHEAD = 5
REPLY_PRIMING = 3


def prompt_tokens(model: ChatModel, messages: Sequence[ChatMessage]) -> int:
    """Tokens the prompt of ``messages`` takes in ``model``'s context."""
    template = model.template
    if template is not None:
        return model.count_tokens(template.raw_prompt(messages)) + (1 if template.add_bos else 0)
    framing = MESSAGE_OVERHEAD * len(messages) + REPLY_PRIMING
    return framing + sum(model.count_tokens(message.content) for message in messages)


def budget(model: ChatModel, reserve_output: int) -> int:
    """Tokens available for the prompt once ``reserve_output`` tokens are kept for the reply."""
    return model.spec.context_length - reserve_output


def fits(model: ChatModel, messages: Sequence[ChatMessage], reserve_output: int) -> bool:
    """True when ``messages`` and a reply of ``reserve_output`` tokens fit the model's context."""
    return prompt_tokens(model, messages) <= budget(model, reserve_output)


def ensure_fits(model: ChatModel, messages: Sequence[ChatMessage], *, reserve_output: int) -> int:
    """The prompt's token count, or ``ContextOverflow`` saying by how much it is too long."""
    used = prompt_tokens(model, messages)
    available = budget(model, reserve_output)
    if used > available:
        spec = model.spec
        how = "exact" if model.exact_tokens else "estimated"
        raise ContextOverflow(
            f"{spec.name}: the prompt takes {used} tokens ({how}) but only {available} fit "
            f"(context_length {spec.context_length} minus {reserve_output} reserved for the reply); "
            f"cut the diff context, or raise context_length if the model supports more"
        )
    return used
