"""Which runtime serves a policy model, and the ``Subject`` the checks work on.

``llamacpp`` is the embedded runtime; ``ollama`` is Ollama's native API. Behind ``openai`` any server may answer, so
it is asked what it is, in this order: llama-server (``GET /props``), Ollama's ``/v1`` (``GET /api/version``), vLLM
(``GET /version``), llama-cpp-python's server (``/extras/tokenize`` in ``GET /openapi.json``), else a plain
OpenAI-compatible server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from bot.models import context, llamacpp
from bot.models.registry import create_model
from bot.templates import ChatTemplate
from bot.templates.check.findings import Subject
from bot.templates.check.runtime import Runtime, Unsupported
from bot.templates.check.servers import HttpRuntime, LlamaCppPythonServer, LlamaServer, Ollama, Vllm
from bot.types import ChatMessage, ModelSpec


def _root(url: str) -> str:
    url = url.rstrip("/")
    return url.removesuffix("/v1")


def _answers(client: httpx.Client, url: str, timeout: float) -> Any:
    """The JSON a GET returns, or None for anything but a 200 with JSON."""
    try:
        response = client.get(url, timeout=timeout)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def open_runtime(spec: ModelSpec, env: Mapping[str, str], client: httpx.Client) -> Runtime:
    """The runtime serving ``spec``. ``ModelUnavailable`` when it cannot be reached or loaded."""
    timeout = spec.timeout
    if spec.backend == "llamacpp":
        from bot.templates.check.embedded import EmbeddedRuntime

        path = Path(spec.model).expanduser() if spec.model else llamacpp.default_model_path()
        threads = int(env.get(llamacpp.THREADS_ENV, "1") or "1")
        return EmbeddedRuntime(path, n_ctx=spec.context_length, n_threads=threads)
    if spec.backend == "ollama":
        return Ollama(spec.url, spec.model, client, num_ctx=spec.context_length, timeout=timeout)
    root = _root(spec.url)
    props = _answers(client, f"{root}/props", timeout)
    if isinstance(props, dict) and ("chat_template" in props or "default_generation_settings" in props):
        return LlamaServer(root, spec.model, client, timeout=timeout)
    if isinstance(_answers(client, f"{root}/api/version", timeout), dict):
        return Ollama(root, spec.model, client, num_ctx=spec.context_length, openai_chat=True, timeout=timeout)
    version = _answers(client, f"{root}/version", timeout)
    if isinstance(version, dict) and "version" in version:
        return Vllm(root, spec.model, client, timeout=timeout)
    openapi = _answers(client, f"{root}/openapi.json", timeout)
    if isinstance(openapi, dict) and "/extras/tokenize" in (openapi.get("paths") or {}):
        return LlamaCppPythonServer(root, spec.model, client, timeout=timeout)
    return HttpRuntime(root, spec.model, client, timeout=timeout)


def _declared(runtime: Runtime) -> ChatTemplate | None:
    """The template a llama-server declares in ``/props``, rendered by Guardrail: the reference for an unpinned
    model, so a server that renders something else (its ChatML fallback) shows."""
    if not isinstance(runtime, LlamaServer) or not runtime.props.get("chat_template"):
        return None
    try:
        adds_bos = bool(runtime.tokenize(""))
    except Unsupported:
        adds_bos = False
    props = runtime.props
    return ChatTemplate(
        label="runtime:/props",
        source=str(props["chat_template"]),
        bos_token=str(props.get("bos_token", "")),
        eos_token=str(props.get("eos_token", "")),
        add_bos=adds_bos,
    )


def open_subject(spec: ModelSpec, env: Mapping[str, str], client: httpx.Client) -> Subject:
    """The model ``spec`` on its runtime, with the template Guardrail renders for it (``ConfigError``,
    ``ModelUnavailable``)."""
    model = create_model(spec, env=env, client=client)
    runtime = open_runtime(spec, env, client)
    reference = model.template
    origin = "pinned in the policy" if spec.template is not None else ""
    if spec.backend == "llamacpp" and spec.template is None:
        origin = "the GGUF's own (the default)"
    raw = reference is not None
    if reference is None:
        reference = _declared(runtime)
        origin = "the runtime's declared template (/props), rendered by Guardrail" if reference else ""

    def count(messages: Sequence[ChatMessage]) -> int:
        return context.prompt_tokens(model, messages)

    return Subject(
        name=spec.name,
        spec=spec,
        runtime=runtime,
        reference=reference,
        reference_origin=origin,
        raw=raw,
        count_tokens=count,
        exact_count=model.exact_tokens,
    )
