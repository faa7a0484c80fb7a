"""Model endpoints: a local model never goes through an environment proxy; a key goes only to the entry naming it;
a GitHub token can never be a model's key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.models.registry import create_model
from bot.policy import admin_policy_problems
from bot.types import ChatMessage
from tests.fakes.fixtures import Connect
from tests.fakes.model_servers import FakeAnthropic, FakeOllama, FakeOpenAI

CHAT = [ChatMessage("user", "def secret(): return 42")]
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    """A recording HTTP server on 127.0.0.1 that every proxy variable points at; it must receive nothing local."""
    with FakeOpenAI() as server:
        for name in PROXY_VARS:
            monkeypatch.setenv(name, server.base_url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        yield server


@pytest.mark.parametrize("fake_class", [FakeOpenAI, FakeOllama])
def test_a_local_model_ignores_http_proxy(proxy: FakeOpenAI, fake_class: type[FakeOpenAI], connect: Connect) -> None:
    with fake_class() as local:
        model = connect(local, location="local")
        model.complete(CHAT)
        assert len(local.chat_requests) == 1
    assert proxy.requests == []  # the prompt (the repository's code) never reached the proxy


def test_a_cloud_model_honours_the_proxy_so_the_check_above_can_fail(proxy: FakeOpenAI, connect: Connect) -> None:
    with FakeAnthropic() as cloud:
        model = connect(cloud, location="cloud", retries=0)
        try:
            model.complete(CHAT)
        except Exception:  # the recording proxy answers in OpenAI's shape, not Anthropic's
            pass
        assert cloud.requests == []
    assert [r.path for r in proxy.requests] == [f"{cloud.base_url}/v1/messages"]


def test_a_local_server_gets_no_key_that_its_entry_does_not_name(fake_openai: FakeOpenAI, connect: Connect) -> None:
    env = {"OPENAI_API_KEY": "sk-cloud-secret", "ANTHROPIC_API_KEY": "sk-ant-secret"}
    model = connect(fake_openai, env=env, location="local")
    model.complete(CHAT)
    [request] = fake_openai.chat_requests
    assert "authorization" not in request.headers
    assert "sk-" not in str(request.headers)


def test_a_local_server_gets_the_key_its_entry_names(fake_ollama: FakeOllama, connect: Connect) -> None:
    model = connect(fake_ollama, env={"OLLAMA_KEY": "k-local", "OPENAI_API_KEY": "sk-cloud"}, api_key_env="OLLAMA_KEY")
    model.complete(CHAT)
    [request] = fake_ollama.chat_requests
    assert request.headers["authorization"] == "Bearer k-local"


def _admin(tmp_path: Path, key_env: str) -> str:
    return (
        "models:\n"
        "  cloud:\n"
        "    backend: anthropic\n"
        "    url: https://api.anthropic.com\n"
        "    model: claude\n"
        "    location: cloud\n"
        f"    api_key_env: {key_env}\n"
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("GITHUB_TOKEN", "GITHUB_TOKEN holds GitHub's token"),
        ("GH_TOKEN", "GH_TOKEN holds GitHub's token"),
        ("GUARDRAIL_GITHUB_TOKEN", "GUARDRAIL_GITHUB_TOKEN holds GitHub's token"),
        ("github_token", "github_token holds GitHub's token"),
        ("INPUT_GITHUB-TOKEN", "INPUT_* variables hold GitHub's and the runner's tokens"),
        ("INPUT_TOKEN", "INPUT_* variables hold GitHub's and the runner's tokens"),
        ("ACTIONS_RUNTIME_TOKEN", "ACTIONS_* variables hold"),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ACTIONS_* variables hold"),
        ("GITHUB_PAT", "GITHUB_* variables hold"),
    ],
)
def test_a_github_token_is_never_a_models_key(tmp_path: Path, name: str, reason: str) -> None:
    _, problems = admin_policy_problems(_admin(tmp_path, repr(name)), "admin.yml")
    [problem] = problems
    assert str(problem).startswith("admin.yml:7: key 'models.cloud.api_key_env': ")
    assert reason in str(problem)
    assert "a model server must never receive it. Name the variable that holds this model's own key" in str(problem)


def test_a_local_entry_may_not_name_a_cloud_entrys_key(tmp_path: Path) -> None:
    text = _admin(tmp_path, "ANTHROPIC_API_KEY") + (
        "  box:\n    backend: openai\n    url: http://10.0.0.5:8000/v1\n    model: m\n    location: local\n"
        "    api_key_env: ANTHROPIC_API_KEY\n"
    )
    _, problems = admin_policy_problems(text, "admin.yml")
    [problem] = problems
    assert str(problem) == (
        "admin.yml:13: key 'models.box.api_key_env': ANTHROPIC_API_KEY is the key of the cloud model 'cloud'; a local "
        "server must not receive a cloud key. Give this model its own variable, or none"
    )


def test_a_spec_built_elsewhere_with_a_github_token_is_refused_before_any_request(fake_openai: FakeOpenAI) -> None:
    spec = fake_openai.model_spec(api_key_env="GITHUB_TOKEN")
    with pytest.raises(ConfigError, match=r"key 'models.fake-openai.api_key_env': GITHUB_TOKEN holds GitHub's token"):
        create_model(spec, env={"GITHUB_TOKEN": "ghs_x"})
    assert fake_openai.requests == []


@pytest.mark.parametrize(
    "value",
    ["ghs_16C7e42F292c6912E7710c838347Ae178B4a", "ghp_abc", "github_pat_11ABC", "gho_x", "ghu_x", "ghr_x", "same"],
)
def test_a_variable_that_holds_a_github_token_by_value_is_never_sent(fake_openai: FakeOpenAI, value: str) -> None:
    """A workflow's `env: {MODEL_KEY: ${{ secrets.PAT }}}`: the name looks innocent, the value is GitHub's token
    (by its documented prefix, or equal to GITHUB_TOKEN's or the webhook secret's value)."""
    spec = fake_openai.model_spec(api_key_env="MODEL_KEY")
    env = {"MODEL_KEY": value, "GITHUB_TOKEN": "same" if value == "same" else "ghs_other"}
    with pytest.raises(ConfigError, match=r"key 'models.fake-openai.api_key_env': MODEL_KEY holds a GitHub token"):
        create_model(spec, env=env).complete(CHAT)
    assert fake_openai.requests == []
