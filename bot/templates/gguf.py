"""A GGUF file's chat template and special tokens, read from its metadata with the ``gguf`` package (``local`` extra).

Keys (GGUF spec, ``gguf-py/gguf/constants.py``): ``tokenizer.chat_template`` (Jinja text),
``tokenizer.ggml.bos_token_id`` / ``eos_token_id`` (indexes into ``tokenizer.ggml.tokens``),
``tokenizer.ggml.add_bos_token`` (does the tokenizer prepend BOS to a prompt; llama.cpp assumes true when absent for
SentencePiece vocabularies, false for BPE ones), ``general.file_type`` (the quantization, a ``LlamaFileType``),
``general.name``. SmolLM2-135M-Instruct's GGUF, for one, has BOS ``<|im_start|>`` and ``add_bos_token`` false.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import ModelUnavailable

INSTALL_HINT = "pip install 'guardrail[local]'"


@dataclass(frozen=True)
class GgufChat:
    """What a GGUF says about chatting with it."""

    path: str
    name: str  # general.name
    chat_template: str | None  # tokenizer.chat_template; None when the file has none
    bos_token: str
    eos_token: str
    bos_id: int | None
    eos_id: int | None
    add_bos: bool
    quantization: str  # e.g. "Q4_1" from general.file_type


@functools.lru_cache(maxsize=8)
def read(path: Path) -> GgufChat:
    """The chat facts of the GGUF at ``path``. ``ModelUnavailable`` when it is not a readable GGUF or the extra is
    missing. Cached per path (the reader maps the file; only the metadata is read)."""
    try:
        import gguf
    except ImportError as exc:
        raise ModelUnavailable(f"the gguf package is not installed; {INSTALL_HINT}") from exc
    try:
        reader = gguf.GGUFReader(str(path), "r")
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"cannot read GGUF metadata from {path}: {exc}") from exc
    fields = reader.fields

    def value(key: str) -> Any:
        field = fields.get(key)
        return None if field is None else field.contents()

    def token(key: str) -> tuple[int | None, str]:
        token_id = value(key)
        tokens = fields.get("tokenizer.ggml.tokens")
        if token_id is None or tokens is None:
            return None, ""
        return int(token_id), str(tokens.contents(int(token_id)))

    bos_id, bos = token("tokenizer.ggml.bos_token_id")
    eos_id, eos = token("tokenizer.ggml.eos_token_id")
    add_bos = value("tokenizer.ggml.add_bos_token")
    if add_bos is None:  # llama.cpp's default: SentencePiece ("llama") vocabularies add BOS, BPE ("gpt2") ones do not
        add_bos = value("tokenizer.ggml.model") == "llama"
    file_type = value("general.file_type")
    try:
        quantization = gguf.LlamaFileType(int(file_type)).name.removeprefix("MOSTLY_") if file_type is not None else ""
    except ValueError:
        quantization = f"file_type {file_type}"
    template = value("tokenizer.chat_template")
    return GgufChat(
        path=str(path),
        name=str(value("general.name") or path.name),
        chat_template=str(template) if template else None,
        bos_token=bos,
        eos_token=eos,
        bos_id=bos_id,
        eos_id=eos_id,
        add_bos=bool(add_bos),
        quantization=quantization,
    )
