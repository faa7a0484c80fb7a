"""template-check against scripted llama-server and Ollama runtimes, each reproducing a known failure mode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.cli import main
from bot.templates.check.detect import open_subject
from bot.templates.check.findings import QUICK, Finding
from bot.templates.check.run import ModelResult, run_checks
from bot.types import ModelSpec, TemplateConfig
from tests.fakes.runtime_servers import TOY_TEMPLATE, FakeLlamaServer, FakeOllamaRuntime, ToyModel

INST = ToyModel(
    template=(
        "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]"
        "{% elif m['role'] == 'assistant' %}{{ m['content'] }}{{ eos_token }}{% else %}{{ m['content'] }}\n\n"
        "{% endif %}{% endfor %}"
    )
)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False) as client:
        yield client


def _spec(url: str, backend: str = "openai", template: TemplateConfig | None = None, **fields: object) -> ModelSpec:
    values: dict[str, object] = {
        "name": "toy",
        "backend": backend,
        "model": "toy",
        "location": "local",
        "url": url,
        "context_length": 512,
        "max_output_tokens": 64,
        "timeout": 10.0,
        "template": template,
    }
    values.update(fields)
    return ModelSpec(**values)  # type: ignore[arg-type]


def _check(spec: ModelSpec, client: httpx.Client, checks: tuple[int, ...] = (1, 2, 3, 4, 5, 7)) -> ModelResult:
    (result,) = run_checks([open_subject(spec, {}, client)], checks)
    return result


def _failures(result: ModelResult, check: int | None = None) -> list[Finding]:
    return [f for f in result.findings if f.status == "fail" and (check is None or f.check == check)]


def test_a_healthy_llama_server_passes_and_the_result_records_the_runtime(client: httpx.Client) -> None:
    with FakeLlamaServer() as server:
        result = _check(_spec(f"{server.url}/v1"), client)

    assert _failures(result) == []
    assert {f.check for f in result.findings if f.status == "pass"} == {1, 2, 3, 4, 5, 7}
    info = result.runtime
    assert (info.kind, info.version, info.quantization, info.n_ctx) == ("llama-server", "b6500-toy", "Q4_K_M", 512)
    assert result.template.startswith("runtime:/props sha256:")
    paths = [path for _, path, _ in server.requests]
    assert "/apply-template" in paths and "/tokenize" in paths


def test_llama_servers_chatml_fallback_for_an_unknown_template_is_named(client: httpx.Client) -> None:
    with FakeLlamaServer(INST, fallback_chatml=True) as server:
        result = _check(_spec(f"{server.url}/v1"), client, QUICK)

    (render, *_) = _failures(result, 1)
    assert "fell back to ChatML" in render.message and "--jinja" in render.message
    assert "+<|im_start|>user\\n" in render.diff  # the diff shows what the runtime rendered instead


def test_a_doubled_bos_is_caught_with_the_fix(client: httpx.Client) -> None:
    # The pinned template renders <s> and says the runtime does not add one; llama-server adds it anyway.
    pinned = TemplateConfig(jinja=TOY_TEMPLATE, bos_token="<s>", eos_token="</s>", add_bos=False)
    with FakeLlamaServer() as server:
        result = _check(_spec(f"{server.url}/v1", template=pinned), client, QUICK)

    (doubled,) = _failures(result, 2)
    assert "doubled BOS: the runtime reads 2 BOS tokens" in doubled.message
    assert "set add_bos: true" in doubled.message


def test_a_runtime_template_that_drops_the_generation_prompt_fails_rendering_and_replies(
    client: httpx.Client,
) -> None:
    with FakeLlamaServer(drop_generation_prompt=True) as server:
        result = _check(_spec(f"{server.url}/v1"), client, (1, 3, 5))

    assert any("generation prompt" in f.message for f in _failures(result, 1))
    assert any(
        "Guardrail appends '<|im_start|>assistant\\n', the runtime ''" in f.message for f in _failures(result, 3)
    )
    (raw_vs_chat, *_) = _failures(result, 5)
    assert "+assistant\\n" in raw_vs_chat.diff  # through chat the model writes the missing turn opener itself


def test_a_stop_token_that_never_fires_is_caught_by_the_short_probes(client: httpx.Client) -> None:
    # The pinned stop is wrong for this model, and the model's end-of-turn never fires on the server.
    pinned = TemplateConfig(jinja=TOY_TEMPLATE, bos_token="<s>", eos_token="<|endoftext|>", add_bos=True)
    with FakeLlamaServer(ToyModel(never_stop=True)) as server:
        result = _check(_spec(f"{server.url}/v1", template=pinned), client, (2, 4))

    stops = _failures(result, 4)
    assert any("did not stop within 48 tokens" in f.message for f in stops)
    assert any("literal role markers" in f.message and "<|im_start|>" in f.message for f in stops)
    assert any(
        "'<|endoftext|>' is split into" in f.message and "never fires" in f.message for f in _failures(result, 2)
    )


def test_a_reasoning_block_in_the_answer_is_caught(client: httpx.Client) -> None:
    with FakeLlamaServer(ToyModel(reasoning=True)) as server:
        result = _check(_spec(f"{server.url}/v1"), client, (4,))

    assert any("reasoning block leaked" in f.message and "<think>" in f.message for f in _failures(result, 4))


def test_ollama_v1_ignoring_num_ctx_is_a_silent_truncation_failure(client: httpx.Client) -> None:
    with FakeOllamaRuntime(default_ctx=2048) as ollama:
        result = _check(_spec(f"{ollama.url}/v1", context_length=4096), client, (7,))

    (cut,) = _failures(result, 7)
    assert "silent truncation" in cut.message and "cut to 2048 tokens" in cut.message
    assert "use backend: ollama" in cut.message
    assert result.runtime.kind == "ollama /v1"


def test_ollama_native_keeps_num_ctx_and_renders_through_debug_render_only(client: httpx.Client) -> None:
    pinned = TemplateConfig(jinja=TOY_TEMPLATE, bos_token="<s>", eos_token="</s>", add_bos=True)
    with FakeOllamaRuntime(default_ctx=2048, refuse_overflow=True) as ollama:
        result = _check(_spec(ollama.url, backend="ollama", context_length=4096, template=pinned), client)
        native = [body for _, path, body in ollama.requests if path == "/api/generate"]

    assert _failures(result) == []
    assert any(f.check == 1 and f.status == "pass" for f in result.findings)
    assert any(f.check == 7 and "refused" in f.message for f in result.findings)
    assert all(body["raw"] is True and body["options"]["num_ctx"] == 4096 for body in native)
    assert result.runtime.quantization == "Q4_K_M"


def test_the_command_exits_1_on_a_failure_and_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeLlamaServer(INST, fallback_chatml=True) as server:
        policy = tmp_path / "admin.yml"
        policy.write_text(
            "models:\n"
            f"  toy: {{backend: openai, url: '{server.url}/v1', model: toy, location: local, context_length: 512,"
            " max_output_tokens: 64}\n"
            "purposes:\n  review: {allow: [toy]}\n",
            encoding="utf-8",
        )
        code = main(["template-check", "--admin-policy", str(policy), "--model", "toy", "--quick", "--json"])

    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["ok"] is False
    (model,) = report["models"]
    assert model["runtime"]["kind"] == "llama-server" and model["runtime"]["build"] == "b6500-toy"
    assert any(f["check"] == 1 and "ChatML" in f["message"] for f in model["findings"])


def test_an_unknown_model_is_a_usage_error_naming_the_known_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["template-check", "--model", "nope"])
    assert code == 2
    assert "unknown model 'nope'; the admin policy defines: embedded" in capsys.readouterr().err
