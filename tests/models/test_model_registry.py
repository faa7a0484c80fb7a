"""create_model: backends by name, and the refusals that must happen before any request is sent."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.errors import ConfigError, ModelUnavailable
from bot.models.registry import BACKENDS, create_model, is_loopback
from bot.types import ModelSpec

LLAMA_CPP = importlib.util.find_spec("llama_cpp") is not None


def spec(**fields: object) -> ModelSpec:
    values: dict[str, object] = {"name": "m", "backend": "openai", "model": "x", "location": "local", **fields}
    return ModelSpec(**values)  # type: ignore[arg-type]


def test_the_four_backends_are_registered() -> None:
    assert sorted(BACKENDS) == ["anthropic", "llamacpp", "ollama", "openai"]


def test_an_unknown_backend_is_a_config_error_naming_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match="unknown backend 'vllm'; known backends: anthropic, llamacpp, ollama, openai"
    ):
        create_model(spec(backend="vllm"), env={})


def test_a_remote_openai_url_needs_the_key_named_in_the_spec() -> None:
    remote = spec(url="https://gpu-box.example.com/v1", api_key_env="VLLM_TOKEN", location="cloud")

    with pytest.raises(ModelUnavailable, match=r"\$VLLM_TOKEN is not set"):
        create_model(remote, env={})
    create_model(remote, env={"VLLM_TOKEN": "t"}).close()


def test_a_cloud_openai_entry_must_name_its_key_no_default_variable_is_read() -> None:
    with pytest.raises(
        ModelUnavailable, match=r"needs an API key and the policy names none; set the model's api_key_env"
    ):
        create_model(spec(url="", location="cloud"), env={"OPENAI_API_KEY": "sk-would-leak"})


def test_a_loopback_openai_server_needs_no_key() -> None:
    create_model(spec(url="http://localhost:8080/v1"), env={}).close()


def test_anthropic_needs_its_key() -> None:
    with pytest.raises(ModelUnavailable, match=r"\$ANTHROPIC_API_KEY is not set"):
        create_model(spec(backend="anthropic", location="cloud", api_key_env="ANTHROPIC_API_KEY"), env={})
    with pytest.raises(ModelUnavailable, match=r"the policy names none; set the model's api_key_env"):
        create_model(spec(backend="anthropic", location="cloud"), env={"ANTHROPIC_API_KEY": "k"})


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:11434", True),
        ("http://127.8.0.1/v1", True),
        ("http://localhost:1234/v1", True),
        ("http://[::1]:8000/v1", True),
        ("http://10.0.0.5:8000/v1", False),
        ("https://api.openai.com/v1", False),
        ("https://127.0.0.1.example.com/v1", False),
    ],
)
def test_is_loopback(url: str, loopback: bool) -> None:
    assert is_loopback(url) is loopback


def test_without_the_local_extra_llamacpp_says_how_to_install_it() -> None:
    # A real interpreter in which llama_cpp cannot be found, as on an install without the extra.
    code = textwrap.dedent(
        """
        import sys
        sys.modules["llama_cpp"] = None  # what Python does for a module that cannot be imported
        from bot.errors import ModelUnavailable
        from bot.models.registry import create_model
        from bot.types import ModelSpec
        try:
            create_model(ModelSpec(name="embedded", backend="llamacpp", model="", location="local"), env={})
        except ModelUnavailable as exc:
            print(exc)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "pip install 'guardrail[local]'" in result.stdout


@pytest.mark.skipif(not LLAMA_CPP, reason="llama-cpp-python is not installed (the local extra)")
def test_a_missing_gguf_is_unavailable_and_nothing_is_downloaded(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match=r"no GGUF file at .*nope\.gguf; Guardrail never downloads models"):
        create_model(spec(backend="llamacpp", model=f"{tmp_path}/nope.gguf"), env={})


@pytest.mark.skipif(not LLAMA_CPP, reason="llama-cpp-python is not installed (the local extra)")
@pytest.mark.parametrize("threads", ["two", "0"])
def test_a_bad_thread_count_is_a_config_error(threads: str) -> None:
    with pytest.raises(ConfigError, match="GUARDRAIL_LLAMA_THREADS"):
        create_model(spec(backend="llamacpp", model=""), env={"GUARDRAIL_LLAMA_THREADS": threads})
