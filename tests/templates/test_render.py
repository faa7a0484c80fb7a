"""Our rendering of chat templates: transformers' Jinja rules, the built-ins' exact strings, stable hashes."""

from __future__ import annotations

import pytest

from bot.errors import ConfigError
from bot.templates import ChatTemplate, TemplateRefused, builtin, resolve
from bot.templates.jinja import render
from bot.types import ChatMessage, TemplateConfig

CHAT = [
    ChatMessage("system", "You review Python."),
    ChatMessage("user", "Review:\n+x = 1"),
    ChatMessage("assistant", "Looks fine."),
    ChatMessage("user", "And now?"),
]


def test_chatml_is_smollm2s_format_ending_at_the_assistant_turn() -> None:
    chatml = builtin("chatml")
    assert chatml.render(CHAT) == (
        "<|im_start|>system\nYou review Python.<|im_end|>\n"
        "<|im_start|>user\nReview:\n+x = 1<|im_end|>\n"
        "<|im_start|>assistant\nLooks fine.<|im_end|>\n"
        "<|im_start|>user\nAnd now?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert chatml.generation_prompt() == "<|im_start|>assistant\n"
    assert chatml.stop_sequences()[0] == "<|im_end|>"


def test_chatml_adds_no_default_system_prompt() -> None:
    rendered = builtin("chatml").render([ChatMessage("user", "hi")])
    assert rendered == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_llama3_renders_its_bos_which_a_raw_prompt_leaves_to_the_runtime() -> None:
    llama3 = builtin("llama3")
    chat = [ChatMessage("system", " Be brief. "), ChatMessage("user", "hi\n")]
    assert llama3.render(chat) == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    # the runtime prepends BOS itself (add_bos): sending it too would double it
    assert llama3.raw_prompt(chat) == llama3.render(chat).removeprefix("<|begin_of_text|>")


def test_mistral_folds_the_system_prompt_into_the_first_user_turn_and_refuses_two_users_in_a_row() -> None:
    mistral = builtin("mistral")
    assert mistral.render(CHAT) == (
        "<s>[INST] You review Python.\n\nReview:\n+x = 1 [/INST]Looks fine.</s>[INST] And now? [/INST]"
    )
    with pytest.raises(TemplateRefused, match="roles must alternate"):
        mistral.render([ChatMessage("user", "a"), ChatMessage("user", "b")])


def test_rendering_follows_transformers_whitespace_json_and_helpers() -> None:
    source = (
        "{% for m in messages %}\n"
        "  {{ m['content'] | tojson }}\n"
        "  {% if loop.index > 1 %}{% break %}{% endif %}\n"
        "{% endfor %}\n"
        "{{ strftime_now('%Y') | length }}"
    )
    messages = [ChatMessage("user", "<b>é</b>"), ChatMessage("user", "two"), ChatMessage("user", "three")]
    # trim_blocks + lstrip_blocks drop the block-tag lines (not the indent of an expression); tojson keeps < > and é
    # unescaped; loop controls work
    assert render(source, messages, bos_token="", eos_token="") == '  "<b>é</b>"\n  "two"\n4'


def test_the_sandbox_keeps_a_template_away_from_python_internals() -> None:
    source = "{{ messages.__class__.__mro__[1].__subclasses__() }}"
    with pytest.raises(Exception, match=r"unsafe|not safely|access"):
        render(source, CHAT, bos_token="", eos_token="")


def test_hashes_change_with_anything_that_changes_the_prompt() -> None:
    chatml = builtin("chatml")
    assert len(chatml.sha256) == 64
    assert chatml.sha256 == builtin("chatml").sha256
    assert len({builtin(name).sha256 for name in ("chatml", "llama3", "mistral")}) == 3
    other_bos = ChatTemplate(chatml.label, chatml.source, "<s>", chatml.eos_token, chatml.add_bos, chatml.stop)
    assert other_bos.sha256 != chatml.sha256
    assert chatml.provenance == f"chatml sha256:{chatml.sha256}"


def test_a_pin_overrides_the_builtins_tokens_and_stops() -> None:
    pinned = resolve(TemplateConfig(name="chatml", eos_token="</s>", stop=("</s>",), add_bos=True, bos_token="<s>"))
    assert pinned is not None
    assert (pinned.bos_token, pinned.eos_token, pinned.add_bos, pinned.stop) == ("<s>", "</s>", True, ("</s>",))


def test_inline_jinja_is_labelled_and_a_syntax_error_is_a_config_error() -> None:
    inline = resolve(TemplateConfig(jinja="{{ messages[0]['content'] }}"))
    assert inline is not None and inline.label == "inline"
    assert inline.render(CHAT) == "You review Python."
    with pytest.raises(ConfigError, match="does not parse"):
        resolve(TemplateConfig(jinja="{% for m in messages %}"))


def test_from_runtime_without_a_gguf_leaves_the_template_to_the_server() -> None:
    assert resolve(TemplateConfig(runtime=True)) is None


def test_an_unknown_builtin_is_a_config_error_naming_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown chat template 'vicuna'; known templates: chatml, llama3, mistral"):
        builtin("vicuna")
