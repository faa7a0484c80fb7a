"""template-check on real runtimes: SmolLM2-135M in process (llama-cpp-python) and served over HTTP by
llama-cpp-python's own server. Generations are short (a few tokens each) and the model is loaded once."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import httpx
import pytest

from bot.models.llamacpp import default_model_path
from bot.templates import gguf
from bot.templates.check.detect import open_subject
from bot.templates.check.findings import QUICK, Finding, Subject
from bot.templates.check.report import text_report
from bot.templates.check.run import ModelResult, run_checks
from bot.types import ModelSpec, TemplateConfig
from tests.templates.conftest import SERVER_CTX

pytestmark = [
    pytest.mark.slow,
    pytest.mark.model,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs the local extra"),
]

NO_GENERATION_PROMPT = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
)


@pytest.fixture(scope="module")
def smollm2_template() -> str:
    template = gguf.read(default_model_path()).chat_template
    assert template is not None
    return template


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False) as client:
        yield client


def _embedded(template: TemplateConfig | None = None) -> ModelSpec:
    return ModelSpec(
        name="embedded",
        backend="llamacpp",
        model=str(default_model_path()),
        location="local",
        context_length=SERVER_CTX,
        max_output_tokens=64,
        template=template,
    )


def _served(url: str, template: TemplateConfig | None) -> ModelSpec:
    return ModelSpec(
        name="served",
        backend="openai",
        model="smollm2",
        location="local",
        url=f"{url}/v1",
        context_length=SERVER_CTX,
        max_output_tokens=64,
        timeout=60.0,
        template=template,
    )


def _subjects(client: httpx.Client, *specs: ModelSpec) -> list[Subject]:
    return [open_subject(spec, {}, client) for spec in specs]


def _failures(result: ModelResult, check: int) -> list[Finding]:
    return [f for f in result.findings if f.status == "fail" and f.check == check]


def test_the_check_passes_between_the_embedded_model_and_its_http_server(
    llama_cpp_server: str, client: httpx.Client, smollm2_template: str
) -> None:
    # The server is pinned to the GGUF's own template, with its tokens: Guardrail renders and sends raw prompts.
    pinned = TemplateConfig(jinja=smollm2_template, bos_token="<|im_start|>", eos_token="<|im_end|>", add_bos=False)
    embedded, served = run_checks(_subjects(client, _embedded(), _served(llama_cpp_server, pinned)))

    report = text_report([embedded, served])
    assert not embedded.failed and not served.failed, report
    assert [f.status for f in embedded.findings if f.check in (1, 2, 3, 4, 5)] == ["pass"] * 5
    # the server renders nothing on request: rendering is skipped there, and check 3 compares token counts instead
    assert [f.status for f in served.findings if f.check in (1, 3)] == ["skip", "pass"]
    (across,) = [f for f in served.findings if f.check == 6]
    assert across.status == "pass" and "same greedy replies as embedded" in across.message
    assert served.runtime.kind == "llama-cpp-python server" and served.runtime.quantization == "Q4_1"
    assert embedded.template.startswith("gguf:SmolLM2-135M-Instruct.Q4_1.gguf sha256:")


def test_a_dropped_generation_prompt_fails_on_both_runtimes_and_is_named(
    llama_cpp_server: str, client: httpx.Client
) -> None:
    broken = TemplateConfig(jinja=NO_GENERATION_PROMPT, bos_token="<|im_start|>", eos_token="<|im_end|>")
    embedded, served = run_checks(_subjects(client, _embedded(broken), _served(llama_cpp_server, broken)), QUICK)

    (in_process,) = _failures(embedded, 3)
    assert "Guardrail's template drops the generation prompt" in in_process.message
    assert "'<|im_start|>assistant\\n'" in in_process.message
    (over_http,) = _failures(served, 3)
    assert "Guardrail's template drops the generation prompt" in over_http.message


def test_a_doubled_bos_fails_tokenization(client: httpx.Client, smollm2_template: str) -> None:
    (result,) = run_checks(
        _subjects(client, _embedded(TemplateConfig(jinja="{{ bos_token }}" + smollm2_template))), (2,)
    )
    assert any("doubled BOS" in f.message for f in _failures(result, 2))


def test_a_wrong_stop_token_fails_and_says_it_never_fires(llama_cpp_server: str, client: httpx.Client) -> None:
    wrong = TemplateConfig(runtime=False, name="chatml", eos_token="</s>", stop=("</s>",))
    (result,) = run_checks(_subjects(client, _served(llama_cpp_server, wrong)), (2,))
    (split,) = _failures(result, 2)
    assert "'</s>' is split into 3 tokens" in split.message and "never fires" in split.message
