"""Render a chat template the way Hugging Face transformers does, so our prompt is the one the model was tuned on.

transformers (``utils/chat_template_utils.py``, ``_compile_jinja_template``) renders with
``jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
extensions=[jinja2.ext.loopcontrols])``, a ``tojson`` filter that does not HTML-escape (``json.dumps`` with
``ensure_ascii=False``), and the globals ``raise_exception(message)`` and ``strftime_now(format)``; the variables are
``messages``, ``add_generation_prompt``, ``bos_token``, ``eos_token`` (and ``tools``, ``documents`` when given).
llama-cpp-python's ``Jinja2ChatFormatter`` does the same. The sandbox keeps a template from reaching Python
internals: a pinned template is configuration, but a GGUF's is data from a model file.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NoReturn

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot.errors import ConfigError, ModelError
from bot.types import ChatMessage


class TemplateRefused(ModelError):
    """The template refused the conversation (it called ``raise_exception``), e.g. roles that do not alternate."""


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _raise_exception(message: str) -> NoReturn:
    raise TemplateRefused(message)


def _strftime_now(format: str) -> str:
    return datetime.now().strftime(format)


@functools.lru_cache(maxsize=32)
def compile_template(source: str) -> jinja2.Template:
    """The compiled template; ``ConfigError`` with the line for a syntax error. Cached per source text."""
    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    environment.filters["tojson"] = _tojson
    environment.globals["raise_exception"] = _raise_exception
    environment.globals["strftime_now"] = _strftime_now
    try:
        return environment.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"the chat template does not parse: {exc.message} (line {exc.lineno})") from exc


def render(
    source: str,
    messages: Sequence[ChatMessage] | Sequence[Mapping[str, str]],
    *,
    bos_token: str,
    eos_token: str,
    add_generation_prompt: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """The prompt text ``source`` renders for ``messages``.

    Raises ``TemplateRefused`` when the template calls ``raise_exception``, ``ModelError`` when it fails in another
    way (an undefined variable used as a mapping, the sandbox refusing an attribute), ``ConfigError`` when it does
    not parse.
    """
    chat = [m if isinstance(m, Mapping) else {"role": m.role, "content": m.content} for m in messages]
    template = compile_template(source)
    try:
        return template.render(
            messages=chat,
            add_generation_prompt=add_generation_prompt,
            bos_token=bos_token,
            eos_token=eos_token,
            **(extra or {}),
        )
    except TemplateRefused:
        raise
    except (jinja2.TemplateError, TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        raise ModelError(f"the chat template failed to render: {type(exc).__name__}: {exc}") from exc
