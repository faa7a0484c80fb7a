"""Our own chat templates: exact strings, stable hashes."""

from __future__ import annotations

import pytest

from bot.errors import ConfigError
from bot.models import templates
from bot.types import ChatMessage

CHAT = [
    ChatMessage("system", "You review Python."),
    ChatMessage("user", "Review:\n+x = 1"),
    ChatMessage("assistant", "Looks fine."),
    ChatMessage("user", "And now?"),
]


def test_chatml_is_smollm2s_format_ending_at_the_assistant_turn() -> None:
    assert templates.render("chatml", CHAT) == (
        "<|im_start|>system\nYou review Python.<|im_end|>\n"
        "<|im_start|>user\nReview:\n+x = 1<|im_end|>\n"
        "<|im_start|>assistant\nLooks fine.<|im_end|>\n"
        "<|im_start|>user\nAnd now?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert templates.stop_sequences("chatml")[0] == "<|im_end|>"


def test_chatml_adds_no_default_system_prompt() -> None:
    rendered = templates.render("chatml", [ChatMessage("user", "hi")])
    assert rendered == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_llama3_strips_content_and_ends_with_the_assistant_header() -> None:
    rendered = templates.render("llama3", [ChatMessage("system", " Be brief. "), ChatMessage("user", "hi\n")])
    assert rendered == (
        "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def test_mistral_folds_the_system_prompt_into_the_first_user_turn() -> None:
    assert templates.render("mistral", CHAT) == (
        "[INST] You review Python.\n\nReview:\n+x = 1 [/INST]Looks fine.</s>[INST] And now? [/INST]"
    )


def test_template_hashes_are_stable_and_distinct() -> None:
    hashes = {name: templates.template_hash(name) for name in templates.TEMPLATES}
    assert all(len(h) == 64 for h in hashes.values())
    assert len(set(hashes.values())) == len(hashes)
    assert templates.template_hash("chatml") == templates.template_hash("chatml")


def test_an_unknown_template_is_a_config_error_naming_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown chat template 'vicuna'; known templates: chatml, llama3, mistral"):
        templates.render("vicuna", CHAT)
