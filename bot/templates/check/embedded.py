"""The embedded runtime: llama-cpp-python in this process, the model loaded once (``bot.models.llamacpp``'s cache).

Its own rendering is llama-cpp-python's chat formatter, the one ``create_chat_completion`` uses: the GGUF's
template through ``Jinja2ChatFormatter`` (format ``chat_template.default``), or a hard-coded format when
llama-cpp-python recognised the template as one it knows. Its prefix cache is reset before every generation
(``Llama.reset``): llama-cpp-python otherwise re-uses the longest matching token prefix of the previous request,
which evaluates the rest in a different batch and can change a greedy reply on the CPU.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.models.llamacpp import DEFAULT_CACHE, LlamaCache
from bot.templates import gguf
from bot.templates.check.runtime import GREEDY_SEED, Generation, RuntimeInfo, RuntimeRefused, Unsupported
from bot.types import ChatMessage


class EmbeddedRuntime:
    """llama-cpp-python's ``Llama`` on a GGUF, in process."""

    def __init__(self, path: Path, *, n_ctx: int, n_threads: int = 1, cache: LlamaCache | None = None) -> None:
        import llama_cpp

        self._loaded = (cache or DEFAULT_CACHE).get(path, n_ctx=n_ctx, n_threads=n_threads, seed=GREEDY_SEED)
        llm = self._loaded.llm
        facts = gguf.read(path)
        template = facts.chat_template or ""
        self.info = RuntimeInfo(
            kind="llama-cpp-python",
            where="in process",
            version=str(getattr(llama_cpp, "__version__", "")),
            build=_system_info(llama_cpp),
            weights=path.name,
            quantization=facts.quantization,
            template_sha256=hashlib.sha256(template.encode("utf-8")).hexdigest() if template else "",
            n_ctx=int(llm.n_ctx()),
            bos_token=facts.bos_token,
            bos_id=facts.bos_id,
            notes=(f"chat format {llm.chat_format}",),
        )

    @property
    def llm(self) -> Any:
        return self._loaded.llm

    def render(self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool) -> str:
        from llama_cpp import llama_chat_format

        llm = self.llm
        chat = [{"role": m.role, "content": m.content} for m in messages]
        name = str(llm.chat_format or "")
        if name.startswith("chat_template."):
            key = "tokenizer.chat_template" + name.removeprefix("chat_template").replace(".default", "")
            formatter: Any = llama_chat_format.Jinja2ChatFormatter(
                template=llm.metadata[key],
                eos_token=self.llm._model.token_get_text(llm.token_eos()),
                bos_token=self.llm._model.token_get_text(llm.token_bos()),
                add_generation_prompt=add_generation_prompt,
            )
        else:
            known = {
                "chatml": "format_chatml",
                "llama-3": "format_llama3",
                "mistral-instruct": "format_mistral_instruct",
                "llama-2": "format_llama2",
            }
            if name not in known or not add_generation_prompt:
                raise Unsupported(f"llama-cpp-python's built-in chat format {name!r} cannot be rendered on its own")
            formatter = getattr(llama_chat_format, known[name])
        try:
            return str(formatter(messages=chat).prompt)
        except ValueError as exc:  # Jinja2ChatFormatter's raise_exception
            raise RuntimeRefused(str(exc)) from exc

    def tokenize(self, text: str) -> list[int]:
        with self._loaded.lock:
            return [int(t) for t in self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)]

    def raw(self, prompt: str, *, max_tokens: int, stop: Sequence[str]) -> Generation:
        return self._generate(lambda llm: llm.create_completion(prompt, **_greedy(max_tokens), stop=list(stop)))

    def chat(self, messages: Sequence[ChatMessage], *, max_tokens: int) -> Generation:
        chat = [{"role": m.role, "content": m.content} for m in messages]
        return self._generate(lambda llm: llm.create_chat_completion(chat, **_greedy(max_tokens)))

    def _generate(self, call: Any) -> Generation:
        with self._loaded.lock:
            self.llm.reset()  # no prefix reuse: every prompt is evaluated whole
            try:
                with warnings.catch_warnings():  # "duplicate leading BOS": check 2 reports it with its cause
                    warnings.simplefilter("ignore", RuntimeWarning)
                    result = call(self.llm)
            except ValueError as exc:  # "Requested tokens (N) exceed context window of M"
                raise RuntimeRefused(str(exc)) from exc
        choice = result["choices"][0]
        text = choice["text"] if "text" in choice else choice["message"].get("content") or ""
        usage = result.get("usage") or {}
        return Generation(
            text=str(text),
            finish_reason=str(choice.get("finish_reason") or ""),
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
        )

    def close(self) -> None:
        """Nothing: the loaded model stays in the process cache."""


def _greedy(max_tokens: int) -> dict[str, Any]:
    return {"max_tokens": max_tokens, "temperature": 0.0, "seed": GREEDY_SEED, "repeat_penalty": 1.0}


def _system_info(llama_cpp: Any) -> str:
    try:
        info = llama_cpp.llama_print_system_info()
    except (AttributeError, OSError):
        return ""
    text = info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info)
    return " ".join(text.split())[:200]
