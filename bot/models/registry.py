"""Backends by name, and ``create_model``: a ``ModelSpec`` from the policy in, a ready ``ChatModel`` out.

Nothing is sent and nothing is loaded here: a missing API key, a missing ``local`` extra or a missing GGUF is
reported now (``ModelUnavailable``), before any request, so a misconfigured cloud model never receives code.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.errors import ConfigError, ModelUnavailable
from bot.models import anthropic, llamacpp, ollama, openai
from bot.models.base import ChatModel
from bot.models.http import RetryPolicy
from bot.models.keys import api_key_for
from bot.templates import ChatTemplate, resolve
from bot.types import ModelSpec


def _pinned_template(spec: ModelSpec) -> ChatTemplate | None:
    """The template an HTTP model's policy entry pins (its prompts then go raw); None: the server applies its own."""
    return resolve(spec.template) if spec.template is not None else None


def _create_openai(
    spec: ModelSpec, *, env: Mapping[str, str], client: httpx.Client | None, retry: RetryPolicy | None, **_: Any
) -> ChatModel:
    url = spec.url or openai.DEFAULT_URL
    key = api_key_for(spec, env)
    if key is None and not is_loopback(url):
        if spec.api_key_env:
            raise ModelUnavailable(
                f"{spec.name}: ${spec.api_key_env} is not set; {url} is not on this machine, so it needs an API key"
            )
        if spec.location == "cloud":
            raise ModelUnavailable(
                f"{spec.name}: {url} needs an API key and the policy names none; set the model's api_key_env to the "
                "variable that holds it (for example OPENAI_API_KEY)"
            )
    return openai.OpenAIChat(spec, url=url, api_key=key, client=client, retry=retry, template=_pinned_template(spec))


def _create_ollama(
    spec: ModelSpec, *, env: Mapping[str, str], client: httpx.Client | None, retry: RetryPolicy | None, **_: Any
) -> ChatModel:
    key = api_key_for(spec, env)
    url = spec.url or ollama.DEFAULT_URL
    return ollama.OllamaChat(spec, url=url, api_key=key, client=client, retry=retry, template=_pinned_template(spec))


def _create_anthropic(
    spec: ModelSpec, *, env: Mapping[str, str], client: httpx.Client | None, retry: RetryPolicy | None, **_: Any
) -> ChatModel:
    if not spec.api_key_env:
        raise ModelUnavailable(
            f"{spec.name}: the Anthropic API needs a key and the policy names none; set the model's api_key_env "
            f"(for example {anthropic.DEFAULT_KEY_ENV})"
        )
    key = api_key_for(spec, env)
    if not key:
        raise ModelUnavailable(f"{spec.name}: ${spec.api_key_env} is not set; the Anthropic API needs a key")
    if spec.template is not None:
        raise ConfigError(
            f"model {spec.name!r}: the Anthropic API takes no raw prompt; remove its template", key="template"
        )
    return anthropic.AnthropicChat(spec, url=spec.url or anthropic.DEFAULT_URL, api_key=key, client=client, retry=retry)


def _create_llamacpp(spec: ModelSpec, *, env: Mapping[str, str], **_: Any) -> ChatModel:
    if not llamacpp.extra_installed():
        raise ModelUnavailable(f"{spec.name}: llama-cpp-python is not installed; {llamacpp.INSTALL_HINT}")
    path = Path(os.path.expanduser(spec.model)) if spec.model else llamacpp.default_model_path()
    if not path.is_file():
        raise ModelUnavailable(f"{spec.name}: no GGUF file at {path}; Guardrail never downloads models")
    threads_text = env.get(llamacpp.THREADS_ENV, "1")
    try:
        threads = int(threads_text)
    except ValueError:
        raise ConfigError(
            f"must be a whole number of threads, not {threads_text!r}", key=llamacpp.THREADS_ENV
        ) from None
    if threads < 1:
        raise ConfigError(f"must be at least 1, not {threads}", key=llamacpp.THREADS_ENV)
    return llamacpp.LlamaCppChat(spec, path=path, n_threads=threads)


BACKENDS: dict[str, Callable[..., ChatModel]] = {
    "openai": _create_openai,
    "ollama": _create_ollama,
    "anthropic": _create_anthropic,
    "llamacpp": _create_llamacpp,
}


def create_model(
    spec: ModelSpec,
    *,
    env: Mapping[str, str],
    client: httpx.Client | None = None,
    retry: RetryPolicy | None = None,
) -> ChatModel:
    """The ``ChatModel`` for ``spec``. ``env`` is where API keys are looked up (``os.environ`` in production).

    ``client`` is shared by HTTP backends (the caller closes it); ``retry`` sets backoff delays (tests make them
    tiny). Raises ``ConfigError`` for an unknown backend, ``ModelUnavailable`` for a missing key, extra or file, and
    for a model with ``template_check`` that fails the quick checks on its first use in this process.
    """
    factory = BACKENDS.get(spec.backend)
    if factory is None:
        known = ", ".join(sorted(BACKENDS))
        raise ConfigError(
            f"model {spec.name!r}: unknown backend {spec.backend!r}; known backends: {known}", key="backend"
        )
    model = factory(spec, env=env, client=client, retry=retry)
    if spec.template_check:
        from bot.templates.check.gate import FIRST_USE  # imports the backends: not at module level

        problems = FIRST_USE.problems(spec, env)
        if problems:
            model.close()
            raise ModelUnavailable(f"{spec.name}: template-check failed: {'; '.join(problems)}")
    return model


def is_loopback(url: str) -> bool:
    """True when ``url`` points at this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
