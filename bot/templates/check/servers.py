"""Runtimes over HTTP, each asked through the endpoints it really has.

- llama.cpp's ``llama-server``: ``GET /props`` (its template, BOS/EOS, build, context), ``POST /apply-template``,
  ``POST /tokenize`` (``add_special``, ``parse_special``), ``POST /completion`` (raw, ``cache_prompt: false``),
  ``POST /v1/chat/completions``.
- llama-cpp-python's server (``python -m llama_cpp.server``): ``POST /extras/tokenize``, ``POST /v1/completions``,
  ``POST /v1/chat/completions``; no rendering endpoint. It samples with ``repeat_penalty`` 1.1 unless told, and
  re-uses the longest matching token prefix of the previous request whatever it is told, so every generation here
  sends ``repeat_penalty: 1.0`` and is preceded by a one-token flush request with a different first token.
- Ollama: ``GET /api/version``, ``POST /api/show`` (quantization, template), ``POST /api/chat`` with
  ``_debug_render_only: true`` (the rendered prompt in ``_debug_info.rendered_template``), ``POST /api/generate``
  with ``raw: true``; chats go to ``/api/chat`` with ``options.num_ctx``, or, for a model the policy reaches through
  Ollama's OpenAI-compatible ``/v1``, to ``/v1/chat/completions``, which cannot set ``num_ctx``.
- vLLM: ``GET /version``, ``POST /tokenize`` (with ``messages`` it renders) then ``POST /detokenize``,
  ``POST /v1/completions``, ``POST /v1/chat/completions``.
- Any other OpenAI-compatible server: ``/v1/completions`` and ``/v1/chat/completions`` only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

import httpx

from bot.errors import ModelUnavailable
from bot.models.http import OVERFLOW_MARKERS
from bot.templates.check.runtime import GREEDY_SEED, Generation, RuntimeInfo, RuntimeRefused, Unsupported
from bot.types import ChatMessage

_QUANT = re.compile(r"(?i)\b(I?Q\d(?:_[A-Z0-9]+)*|F16|BF16|F32)\b")


def quantization_from_name(name: str) -> str:
    """ "Q4_K_M" from "qwen2.5-coder-7b-q4_k_m.gguf": the quantization a file name states ("" when none)."""
    found = _QUANT.search(re.sub(r"[.-]", " ", name))
    return found.group(1).upper() if found else ""


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text else ""


def _chat(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


class HttpRuntime:
    """The HTTP plumbing: one client, JSON in and out, errors sorted into refused / unsupported / unreachable."""

    kind = "openai-compatible"

    def __init__(self, root: str, model: str, client: httpx.Client, *, timeout: float = 120.0) -> None:
        self.root = root.rstrip("/")
        self.model = model
        self.client = client
        self.timeout = timeout
        self.info = RuntimeInfo(kind=self.kind, where=self.root, weights=model)

    def post(self, path: str, payload: Mapping[str, Any], *, optional: bool = False) -> Any:
        return self._send("POST", path, payload, optional)

    def get(self, path: str, *, optional: bool = False) -> Any:
        return self._send("GET", path, None, optional)

    def _send(self, method: str, path: str, payload: Mapping[str, Any] | None, optional: bool) -> Any:
        url = self.root + path
        try:
            response = self.client.request(method, url, json=payload, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise ModelUnavailable(f"{method} {url}: {exc}; is the runtime running there?") from exc
        if response.status_code in (404, 405, 501) and optional:
            raise Unsupported(f"{method} {path} is not served ({response.status_code})")
        if response.status_code != 200:
            raise RuntimeRefused(f"{method} {path} returned HTTP {response.status_code}: {response.text[:300]}")
        try:
            return response.json()
        except ValueError as exc:
            raise RuntimeRefused(f"{method} {path} answered 200 with non-JSON: {response.text[:200]!r}") from exc

    # --- defaults: any OpenAI-compatible server --------------------------------------------------------------

    def render(self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool) -> str:
        raise Unsupported(f"{self.kind} has no endpoint that renders a chat template")

    def tokenize(self, text: str) -> list[int]:
        raise Unsupported(f"{self.kind} has no tokenizer endpoint")

    def sampling(self) -> dict[str, Any]:
        return {"temperature": 0.0, "seed": GREEDY_SEED}

    def before_generation(self) -> None:
        """Make the next generation start from an empty prompt cache (where the runtime needs a push)."""

    def raw(self, prompt: str, *, max_tokens: int, stop: Sequence[str]) -> Generation:
        self.before_generation()
        payload = {"model": self.model, "prompt": prompt, "max_tokens": max_tokens, "stop": list(stop), "stream": False}
        body = self.post("/v1/completions", {**payload, **self.sampling()})
        return _openai_generation(body, text_key="text")

    def chat(self, messages: Sequence[ChatMessage], *, max_tokens: int) -> Generation:
        self.before_generation()
        payload = {"model": self.model, "messages": _chat(messages), "max_tokens": max_tokens, "stream": False}
        body = self.post("/v1/chat/completions", {**payload, **self.sampling()})
        return _openai_generation(body, text_key="message")

    def close(self) -> None:
        """The client belongs to the caller."""


def _openai_generation(body: Any, *, text_key: str) -> Generation:
    try:
        choice = body["choices"][0]
        text = choice["text"] if text_key == "text" else (choice["message"].get("content") or "")
        usage = body.get("usage") or {}
        return Generation(
            text=str(text),
            finish_reason=str(choice.get("finish_reason") or ""),
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
        )
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise RuntimeRefused(f"a completion of an unexpected shape: {str(body)[:300]}") from exc


class LlamaCppPythonServer(HttpRuntime):
    """``python -m llama_cpp.server``."""

    kind = "llama-cpp-python server"

    def __init__(self, root: str, model: str, client: httpx.Client, *, timeout: float = 120.0) -> None:
        super().__init__(root, model, client, timeout=timeout)
        spec = self.get("/openapi.json", optional=True)
        listing = self.get("/v1/models", optional=True)
        served = str((listing.get("data") or [{}])[0].get("id", model)) if isinstance(listing, dict) else model
        weights = PurePosixPath(served).name
        self.info = RuntimeInfo(
            kind=self.kind,
            where=self.root,
            version=str((spec.get("info") or {}).get("version", "")),
            weights=weights,
            quantization=quantization_from_name(weights),
            notes=("quantization read from the file name",),
        )

    def tokenize(self, text: str) -> list[int]:
        body = self.post("/extras/tokenize", {"input": text})
        return [int(t) for t in body["tokens"]]

    def sampling(self) -> dict[str, Any]:
        return {"temperature": 0.0, "seed": GREEDY_SEED, "repeat_penalty": 1.0, "top_k": 1}

    def before_generation(self) -> None:
        # A one-token request whose first token differs from any chat prompt: the next request shares no prefix.
        self.post("/v1/completions", {"model": self.model, "prompt": "\n\n", "max_tokens": 1, **self.sampling()})


class LlamaServer(HttpRuntime):
    """llama.cpp's ``llama-server``."""

    kind = "llama-server"

    def __init__(self, root: str, model: str, client: httpx.Client, *, timeout: float = 120.0) -> None:
        super().__init__(root, model, client, timeout=timeout)
        props = self.get("/props")
        self.props: dict[str, Any] = props if isinstance(props, dict) else {}
        path = str(self.props.get("model_path", model))
        settings = self.props.get("default_generation_settings") or {}
        self.info = RuntimeInfo(
            kind=self.kind,
            where=self.root,
            version=str(self.props.get("build_info", "")),
            build=str(self.props.get("build_info", "")),
            weights=PurePosixPath(path).name,
            quantization=quantization_from_name(PurePosixPath(path).name),
            template_sha256=_sha(str(self.props.get("chat_template", ""))),
            n_ctx=int(settings["n_ctx"]) if "n_ctx" in settings else None,
            bos_token=str(self.props.get("bos_token", "")),
        )

    def render(self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool) -> str:
        body = self.post(
            "/apply-template", {"messages": _chat(messages), "add_generation_prompt": add_generation_prompt}
        )
        return str(body["prompt"])

    def tokenize(self, text: str) -> list[int]:
        body = self.post("/tokenize", {"content": text, "add_special": True, "parse_special": True})
        return [int(t) if not isinstance(t, dict) else int(t["id"]) for t in body["tokens"]]

    def sampling(self) -> dict[str, Any]:
        return {"temperature": 0.0, "seed": GREEDY_SEED, "repeat_penalty": 1.0, "top_k": 1, "cache_prompt": False}

    def raw(self, prompt: str, *, max_tokens: int, stop: Sequence[str]) -> Generation:
        body = self.post(
            "/completion", {"prompt": prompt, "n_predict": max_tokens, "stop": list(stop), **self.sampling()}
        )
        if body.get("truncated"):
            raise RuntimeRefused(f"llama-server truncated the prompt (tokens_evaluated {body.get('tokens_evaluated')})")
        stop_type = body.get("stop_type")  # newer servers; older ones say stopped_eos / stopped_word / stopped_limit
        if stop_type is None:
            stop_type = "eos" if body.get("stopped_eos") else "word" if body.get("stopped_word") else "limit"
        return Generation(
            text=str(body.get("content", "")),
            finish_reason="stop" if stop_type in ("eos", "word") else "length",
            prompt_tokens=int(body.get("tokens_evaluated", 0)),
            completion_tokens=int(body.get("tokens_predicted", 0)),
        )


class Ollama(HttpRuntime):
    """Ollama, natively or through its OpenAI-compatible ``/v1`` (``openai_chat``)."""

    kind = "ollama"

    def __init__(
        self,
        root: str,
        model: str,
        client: httpx.Client,
        *,
        num_ctx: int,
        openai_chat: bool = False,
        timeout: float = 120.0,
    ) -> None:
        super().__init__(root, model, client, timeout=timeout)
        self.num_ctx = num_ctx
        self.openai_chat = openai_chat
        version = self.get("/api/version")
        show = self.post("/api/show", {"model": model})
        details = show.get("details") or {}
        self.info = RuntimeInfo(
            kind=self.kind + (" /v1" if openai_chat else ""),
            where=self.root,
            version=str(version.get("version", "")),
            weights=model,
            quantization=str(details.get("quantization_level", "")),
            template_sha256=_sha(str(show.get("template", ""))),
            notes=("chats through the OpenAI-compatible /v1 endpoint, which cannot set num_ctx",)
            if openai_chat
            else (),
        )

    def options(self, max_tokens: int, stop: Sequence[str] = ()) -> dict[str, Any]:
        options: dict[str, Any] = {
            "num_ctx": self.num_ctx,
            "temperature": 0.0,
            "seed": GREEDY_SEED,
            "repeat_penalty": 1.0,
            "top_k": 1,
            "num_predict": max_tokens,
        }
        if stop:
            options["stop"] = list(stop)
        return options

    def render(self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool) -> str:
        if not add_generation_prompt:
            raise Unsupported("Ollama always renders with the generation prompt")
        payload = {
            "model": self.model,
            "messages": _chat(messages),
            "stream": False,
            "_debug_render_only": True,
            "options": {"num_ctx": self.num_ctx},
        }
        body = self.post("/api/chat", payload)
        debug = body.get("_debug_info") or body.get("debug_info") or {}
        if "rendered_template" not in debug:
            raise Unsupported("this Ollama does not answer _debug_render_only (it needs 0.12 or newer)")
        return str(debug["rendered_template"])

    def raw(self, prompt: str, *, max_tokens: int, stop: Sequence[str]) -> Generation:
        payload = {
            "model": self.model,
            "prompt": prompt,
            "raw": True,
            "stream": False,
            "options": self.options(max_tokens, stop),
        }
        return _ollama_generation(self.post("/api/generate", payload), "response")

    def chat(self, messages: Sequence[ChatMessage], *, max_tokens: int) -> Generation:
        if self.openai_chat:
            return super().chat(messages, max_tokens=max_tokens)
        payload = {
            "model": self.model,
            "messages": _chat(messages),
            "stream": False,
            "options": self.options(max_tokens),
        }
        return _ollama_generation(self.post("/api/chat", payload), "message")


def _ollama_generation(body: Any, key: str) -> Generation:
    text = body.get("response", "") if key == "response" else (body.get("message") or {}).get("content", "")
    return Generation(
        text=str(text or ""),
        finish_reason=str(body.get("done_reason") or ""),
        prompt_tokens=int(body.get("prompt_eval_count", 0)),
        completion_tokens=int(body.get("eval_count", 0)),
    )


class Vllm(HttpRuntime):
    """vLLM's OpenAI-compatible server."""

    kind = "vllm"

    def __init__(self, root: str, model: str, client: httpx.Client, *, timeout: float = 120.0) -> None:
        super().__init__(root, model, client, timeout=timeout)
        version = self.get("/version")
        self.info = RuntimeInfo(kind=self.kind, where=self.root, version=str(version.get("version", "")), weights=model)

    def render(self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool) -> str:
        payload = {"model": self.model, "messages": _chat(messages), "add_generation_prompt": add_generation_prompt}
        tokens = self.post("/tokenize", payload)["tokens"]
        return str(self.post("/detokenize", {"model": self.model, "tokens": tokens})["prompt"])

    def tokenize(self, text: str) -> list[int]:
        body = self.post("/tokenize", {"model": self.model, "prompt": text, "add_special_tokens": True})
        return [int(t) for t in body["tokens"]]

    def sampling(self) -> dict[str, Any]:
        return {"temperature": 0.0, "seed": GREEDY_SEED, "repetition_penalty": 1.0}


def is_overflow(message: str) -> bool:
    """True when a runtime's refusal says the prompt does not fit its context."""
    text = message.lower()
    return any(marker in text for marker in (*OVERFLOW_MARKERS, "exceed context window", "exceeds the context"))
