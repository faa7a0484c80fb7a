"""A model whose policy entry sets ``template_check``: the quick checks run on its first use, and a failing model is
refused before it is asked anything."""

from __future__ import annotations

import pytest

from bot.errors import ModelUnavailable
from bot.models.registry import create_model
from bot.policy import load_admin_policy_text
from bot.types import ModelSpec
from tests.fakes.runtime_servers import FakeLlamaServer, ToyModel

INST = ToyModel(template="{{ bos_token }}{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}")


def _spec(url: str) -> ModelSpec:
    text = (
        "models:\n"
        f"  toy: {{backend: openai, url: '{url}/v1', model: toy, location: local, context_length: 512,"
        " max_output_tokens: 64, template_check: true}\n"
        "purposes:\n  review: {allow: [toy]}\n"
    )
    return load_admin_policy_text(text, "admin.yml").models["toy"].spec("toy")


def test_a_model_failing_the_quick_checks_is_refused_before_any_chat() -> None:
    with FakeLlamaServer(INST, fallback_chatml=True) as server:
        with pytest.raises(
            ModelUnavailable, match=r"toy: template-check failed: check 1 \(rendering\): the runtime fell"
        ):
            create_model(_spec(server.url), env={})
        assert not any(path.startswith("/v1/") or path == "/completion" for _, path, _ in server.requests)


def test_a_passing_model_is_checked_once_per_process() -> None:
    with FakeLlamaServer() as server:
        spec = _spec(server.url)
        create_model(spec, env={}).close()
        renders = sum(path == "/apply-template" for _, path, _ in server.requests)
        create_model(spec, env={}).close()

        assert renders > 0
        assert sum(path == "/apply-template" for _, path, _ in server.requests) == renders
