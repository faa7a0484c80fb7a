"""A pinned template in the policy: how it is read, refused, and sent raw by the HTTP backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.models.registry import create_model
from bot.policy import load_admin_policy, load_admin_policy_text
from bot.templates import builtin, sha256_text
from bot.types import ChatMessage, TemplateConfig
from tests.fakes.fixtures import Connect
from tests.fakes.model_servers import FakeOllama, FakeOpenAI, Reply

CHAT = [ChatMessage("system", "You review Python."), ChatMessage("user", "Review x = 1")]
QWEN = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def _policy(template: str, backend: str = "openai") -> str:
    url = {"openai": "http://127.0.0.1:1/v1", "ollama": "http://127.0.0.1:1", "anthropic": "http://127.0.0.1:1"}
    return (
        f"models:\n  m:\n    backend: {backend}\n    url: {url[backend]}\n    model: q\n    location: local\n"
        f"    template: {template}\npurposes:\n  review: {{allow: [m]}}\n"
    )


def test_a_template_file_is_read_relative_to_the_policy_file_when_the_policy_is_loaded(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "qwen.jinja").write_text(QWEN, encoding="utf-8")
    policy_file = tmp_path / "admin.yml"
    policy_file.write_text(_policy("{file: templates/qwen.jinja, stop: ['<|im_end|>']}"), encoding="utf-8")

    spec = load_admin_policy(policy_file, {}).models["m"].spec("m")

    assert spec.template == TemplateConfig(jinja=QWEN, file="templates/qwen.jinja", stop=("<|im_end|>",))
    (tmp_path / "templates" / "qwen.jinja").write_text("changed", encoding="utf-8")
    assert spec.template.jinja == QWEN  # what was loaded is what runs


def test_a_missing_template_file_names_the_file_and_the_key(tmp_path: Path) -> None:
    policy_file = tmp_path / "admin.yml"
    policy_file.write_text(_policy("{file: nowhere.jinja}"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"models\.m\.template\.file.*nowhere\.jinja.*No such file"):
        load_admin_policy(policy_file, {})


def test_a_relative_template_file_in_a_policy_that_is_not_a_file_is_refused() -> None:
    with pytest.raises(ConfigError, match="give an absolute path or inline the template with jinja"):
        load_admin_policy_text(_policy("{file: qwen.jinja}"), "input admin-policy")


def test_bad_pins_are_refused_with_the_key_path() -> None:
    cases = {
        "{jinja: '{% for m in messages %}'}": "does not parse",
        "{name: chatml, jinja: x}": "exactly one of name, file, jinja or from: runtime",
        "vicuna": "unknown chat template",
        "{from: gguf}": "runtime",
    }
    for template, message in cases.items():
        with pytest.raises(ConfigError, match=message):
            load_admin_policy_text(_policy(template), "a.yml")
    with pytest.raises(ConfigError, match="takes no raw prompt"):
        load_admin_policy_text(_policy("chatml", backend="anthropic"), "a.yml")


def test_openai_with_a_pinned_template_sends_the_rendered_prompt_to_completions(
    fake_openai: FakeOpenAI, connect: Connect
) -> None:
    fake_openai.default = Reply("Looks fine.", prompt_tokens=21)
    model = connect(fake_openai, template=TemplateConfig(name="chatml"))

    reply = model.complete(CHAT, max_tokens=32)

    (request,) = fake_openai.raw_requests
    rendered = builtin("chatml").render(CHAT)
    assert request.json["prompt"] == rendered
    assert request.json["stop"] == ["<|im_end|>", "<|im_start|>"]
    assert (request.json["temperature"], request.json["max_tokens"]) == (0, 32)
    assert fake_openai.chat_requests == []
    assert (reply.text, reply.prompt_tokens) == ("Looks fine.", 21)
    assert reply.prompt_sha256 == sha256_text(rendered)


def test_ollama_with_a_pinned_template_sends_a_raw_generate_with_its_context(
    fake_ollama: FakeOllama, connect: Connect
) -> None:
    fake_ollama.default = Reply("Looks fine.", finish_reason="stop")
    model = connect(fake_ollama, template=TemplateConfig(name="llama3"), context_length=4096)

    reply = model.complete(CHAT, max_tokens=16)

    (request,) = fake_ollama.raw_requests
    assert request.json["raw"] is True
    # llama3's tokenizer adds <|begin_of_text|> itself: the raw text leaves it out, so the model sees one
    assert request.json["prompt"] == builtin("llama3").render(CHAT).removeprefix("<|begin_of_text|>")
    assert request.json["options"]["num_ctx"] == 4096
    assert request.json["options"]["stop"] == ["<|eot_id|>", "<|end_of_text|>"]
    assert reply.text == "Looks fine."
    assert fake_ollama.chat_requests == []


def test_without_a_pin_http_backends_still_send_chat_messages(fake_openai: FakeOpenAI, connect: Connect) -> None:
    model = connect(fake_openai)
    reply = model.complete(CHAT, max_tokens=8)
    assert len(fake_openai.chat_requests) == 1 and fake_openai.raw_requests == []
    assert model.template is None and reply.prompt_sha256 == ""


def test_from_runtime_on_an_http_backend_leaves_the_template_to_the_server() -> None:
    spec = load_admin_policy_text(_policy("{from: runtime}"), "a.yml").models["m"].spec("m")
    model = create_model(spec, env={})
    try:
        assert model.template is None
    finally:
        model.close()
