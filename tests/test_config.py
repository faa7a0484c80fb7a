import pytest

from bot.config import RepoConfig, load_repo_config, load_text
from bot.errors import ConfigError
from bot.types import GateCeiling


def test_unknown_key_names_file_key_path_and_line() -> None:
    text = "gates:\n  ruff: {enabled: true}\n  tests:\n    comand: pytest\n"
    with pytest.raises(ConfigError) as info:
        load_text(text, RepoConfig, ".github/guardrail.yml")
    message = str(info.value)
    assert ".github/guardrail.yml:4" in message
    assert "gates.tests.comand" in message
    assert "unknown key" in message


def test_invalid_yaml_names_the_line() -> None:
    with pytest.raises(ConfigError, match=r"guardrail.yml:3: not valid YAML"):
        load_text("gates:\n  ruff: [unclosed\n", RepoConfig, "guardrail.yml")


def test_gate_settings_from_config() -> None:
    text = (
        "gates:\n  tests: {command: 'python -m pytest -q', timeout: 60}\n"
        "  commands: [{name: mypy, command: 'mypy src'}]\n  protected_paths: {add: ['migrations/**']}\n"
    )
    settings = load_text(text, RepoConfig, "x").gates.settings(GateCeiling())
    assert settings.tests_command == "python -m pytest -q"
    assert settings.tests_timeout == 60
    assert settings.commands[0].name == "mypy"
    assert settings.protected_add == ("migrations/**",)


def test_missing_file_means_defaults() -> None:
    config = load_repo_config(None)
    assert config.cloud_fallback is True
    assert config.gates.settings(GateCeiling()).ruff is True
