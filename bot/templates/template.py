"""``ChatTemplate``: one chat template with its special tokens, and how a model's policy entry picks it.

Where each fact comes from, first found wins: what the policy pins (``template: {bos_token, eos_token, add_bos,
stop}``), then the GGUF's metadata (embedded models), then the built-in template's defaults.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.errors import ConfigError
from bot.templates import jinja
from bot.templates.builtin import BUILTINS
from bot.templates.gguf import GgufChat
from bot.types import ChatMessage, TemplateConfig

_PROBE = (ChatMessage("user", "x"),)


@dataclass(frozen=True)
class ChatTemplate:
    """A Jinja chat template and the tokens it renders with. What is hashed is exactly what renders."""

    label: str  # "chatml", "file:templates/qwen.jinja", "inline", "gguf:SmolLM2-135M-Instruct.Q4_1.gguf"
    source: str
    bos_token: str = ""
    eos_token: str = ""
    add_bos: bool = False  # the runtime's tokenizer prepends BOS to a raw prompt
    stop: tuple[str, ...] = ()

    @property
    def sha256(self) -> str:
        """sha256 (hex) of the template text, its tokens and stops: it changes whenever a rendered prompt could."""
        definition = {
            "source": self.source,
            "bos_token": self.bos_token,
            "eos_token": self.eos_token,
            "add_bos": self.add_bos,
            "stop": list(self.stop),
        }
        canonical = json.dumps(definition, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def provenance(self) -> str:
        """``label sha256:<hex>``, as the audit log and the PR comment name it."""
        return f"{self.label} sha256:{self.sha256}"

    def render(self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True) -> str:
        """The prompt text, as transformers' ``apply_chat_template(..., tokenize=False)`` gives it."""
        return jinja.render(
            self.source,
            messages,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
            add_generation_prompt=add_generation_prompt,
        )

    def raw_prompt(self, messages: Sequence[ChatMessage]) -> str:
        """The text to send a runtime that tokenizes a raw prompt itself: the rendering, less one leading BOS when
        the runtime adds BOS (``add_bos``), so the model sees exactly one."""
        text = self.render(messages)
        if self.add_bos and self.bos_token and text.startswith(self.bos_token):
            return text[len(self.bos_token) :]
        return text

    def generation_prompt(self) -> str:
        """What ``add_generation_prompt`` appends (e.g. ``<|im_start|>assistant\\n``); "" when nothing."""
        with_prompt = self.render(_PROBE)
        without = self.render(_PROBE, add_generation_prompt=False)
        return with_prompt[len(without) :] if with_prompt.startswith(without) else ""

    def stop_sequences(self) -> list[str]:
        """Strings that end the reply: the pinned or built-in stops, else the EOS token."""
        if self.stop:
            return list(self.stop)
        return [self.eos_token] if self.eos_token else []


def sha256_text(text: str) -> str:
    """sha256 (hex) of a prompt's UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def builtin(name: str) -> ChatTemplate:
    """The built-in template ``name`` with its default tokens; ``ConfigError`` naming the known ones otherwise."""
    found = BUILTINS.get(name)
    if found is None:
        known = ", ".join(sorted(BUILTINS))
        raise ConfigError(f"unknown chat template {name!r}; known templates: {known}", key="template")
    return ChatTemplate(name, found.source, found.bos_token, found.eos_token, found.add_bos, found.stop)


def from_gguf(facts: GgufChat) -> ChatTemplate | None:
    """The GGUF's own template and tokens (``from: runtime`` for an embedded model); None when it carries none."""
    if facts.chat_template is None:
        return None
    return ChatTemplate(
        label=f"gguf:{Path(facts.path).name}",
        source=facts.chat_template,
        bos_token=facts.bos_token,
        eos_token=facts.eos_token,
        add_bos=facts.add_bos,
        stop=(facts.eos_token,) if facts.eos_token else (),
    )


def resolve(config: TemplateConfig, model: GgufChat | None = None) -> ChatTemplate | None:
    """The template a policy entry pins, with the tokens of ``model`` (a GGUF) where the policy pins none.

    None for ``from: runtime`` without a GGUF to read: the server applies its own template. ``ConfigError`` for an
    unknown built-in, a GGUF without a template, or Jinja that does not parse.
    """
    if config.runtime:
        if model is None:
            return None
        base = from_gguf(model)
        if base is None:
            raise ConfigError(
                f"{model.path} carries no tokenizer.chat_template; pin one (template: {{name: chatml}} or a file)",
                key="template",
            )
    elif config.name is not None:
        base = builtin(config.name)
        if model is not None:  # the model's real tokens beat the built-in's guesses
            base = ChatTemplate(base.label, base.source, model.bos_token, model.eos_token, model.add_bos, base.stop)
    elif config.jinja is not None:
        jinja.compile_template(config.jinja)  # a syntax error is a configuration error, now
        label = f"file:{config.file}" if config.file else "inline"
        bos, eos, add_bos = (model.bos_token, model.eos_token, model.add_bos) if model else ("", "", False)
        base = ChatTemplate(label, config.jinja, bos, eos, add_bos)
    else:
        raise ConfigError("give one of name, file, jinja or from: runtime", key="template")
    return ChatTemplate(
        label=base.label,
        source=base.source,
        bos_token=config.bos_token if config.bos_token is not None else base.bos_token,
        eos_token=config.eos_token if config.eos_token is not None else base.eos_token,
        add_bos=config.add_bos if config.add_bos is not None else base.add_bos,
        stop=config.stop or base.stop,
    )
