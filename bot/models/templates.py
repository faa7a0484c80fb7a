"""Explicit chat templates for backends that take a raw prompt (``llamacpp``).

Guardrail renders the chat itself instead of trusting the Jinja template embedded in a GGUF, so the exact prompt
the model saw is ours, reproducible, and named in the audit log by ``template_hash(name)``.

Templates render without the BOS token: llama.cpp adds the BOS the GGUF asks for when it tokenizes the prompt.

- ``chatml`` (SmolLM2, Qwen2.5): ``<|im_start|>role\\ncontent<|im_end|>\\n`` per message, then
  ``<|im_start|>assistant\\n``. Unlike SmolLM2's embedded template, no default system prompt is added.
- ``llama3`` (Llama 3.x Instruct): ``<|start_header_id|>role<|end_header_id|>\\n\\n`` + stripped content +
  ``<|eot_id|>``, then the assistant header.
- ``mistral`` (Mistral 7B Instruct v0.1/v0.2): ``[INST] user [/INST]assistant</s>``; that template has no system
  role, so a system message is folded into the first user turn, separated by a blank line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from bot.errors import ConfigError
from bot.types import ChatMessage


@dataclass(frozen=True)
class ChatTemplate:
    """A chat template as data: what is hashed is exactly what renders."""

    name: str
    user: str  # format with {content}
    assistant: str
    system: str | None  # None: fold the system message into the first user turn
    generation: str  # appended to ask for the assistant's reply
    stop: tuple[str, ...]
    strip: bool = False  # strip each message's content first


TEMPLATES: dict[str, ChatTemplate] = {
    "chatml": ChatTemplate(
        name="chatml",
        system="<|im_start|>system\n{content}<|im_end|>\n",
        user="<|im_start|>user\n{content}<|im_end|>\n",
        assistant="<|im_start|>assistant\n{content}<|im_end|>\n",
        generation="<|im_start|>assistant\n",
        stop=("<|im_end|>", "<|im_start|>"),
    ),
    "llama3": ChatTemplate(
        name="llama3",
        system="<|start_header_id|>system<|end_header_id|>\n\n{content}<|eot_id|>",
        user="<|start_header_id|>user<|end_header_id|>\n\n{content}<|eot_id|>",
        assistant="<|start_header_id|>assistant<|end_header_id|>\n\n{content}<|eot_id|>",
        generation="<|start_header_id|>assistant<|end_header_id|>\n\n",
        stop=("<|eot_id|>", "<|end_of_text|>"),
        strip=True,
    ),
    "mistral": ChatTemplate(
        name="mistral",
        system=None,
        user="[INST] {content} [/INST]",
        assistant="{content}</s>",
        generation="",
        stop=("</s>", "[INST]"),
    ),
}


def get(name: str) -> ChatTemplate:
    """The template called ``name``; ``ConfigError`` naming the known ones otherwise."""
    try:
        return TEMPLATES[name]
    except KeyError:
        known = ", ".join(sorted(TEMPLATES))
        raise ConfigError(f"unknown chat template {name!r}; known templates: {known}", key="template") from None


def render(name: str, messages: Sequence[ChatMessage]) -> str:
    """The prompt for ``messages`` in template ``name``, ending where the assistant's reply begins."""
    template = get(name)
    parts: list[str] = []
    pending_system: list[str] = []
    for message in messages:
        content = message.content.strip() if template.strip else message.content
        if message.role == "system":
            if template.system is None:
                pending_system.append(content)
            else:
                parts.append(template.system.format(content=content))
        elif message.role == "user":
            if pending_system:
                content = "\n\n".join([*pending_system, content])
                pending_system.clear()
            parts.append(template.user.format(content=content))
        else:
            parts.append(template.assistant.format(content=content))
    if pending_system:  # a system message with no user turn after it still reaches the model
        parts.append(template.user.format(content="\n\n".join(pending_system)))
    parts.append(template.generation)
    return "".join(parts)


def stop_sequences(name: str) -> list[str]:
    """Strings that end the assistant's turn in template ``name``."""
    return list(get(name).stop)


def template_hash(name: str) -> str:
    """A sha256 (hex) of the template's definition; it changes whenever the rendered prompt could."""
    definition = json.dumps(asdict(get(name)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(definition.encode()).hexdigest()
