"""The Action's environment: what GitHub sets and the inputs action.yml passes; every error names its input."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.github.action import write_outputs
from bot.github.action_settings import settings_from_env
from tests.github.action_world import read_outputs

GITHUB = {
    "GITHUB_EVENT_NAME": "pull_request",
    "GITHUB_EVENT_PATH": "/tmp/event.json",
    "GITHUB_REPOSITORY": "o/r",
    "GITHUB_TOKEN": "t",
}


def test_defaults_follow_action_yml() -> None:
    settings = settings_from_env(GITHUB)
    assert (settings.purpose, settings.config_path, settings.fail_on, settings.max_inline) == (
        "review",
        ".github/guardrail.yml",
        "rejected",
        20,
    )
    assert settings.api_url == "https://api.github.com" and settings.token == "t"


def test_the_input_token_wins_over_github_token() -> None:
    assert settings_from_env(GITHUB | {"GUARDRAIL_GITHUB_TOKEN": "input"}).token == "input"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"GUARDRAIL_PURPOSE": "deploy"}, "input purpose"),
        ({"GUARDRAIL_MAX_INLINE": "lots"}, "input max-inline"),
        ({"GUARDRAIL_CONFIG": "../elsewhere.yml"}, "input config"),
        ({"GITHUB_REPOSITORY": ""}, "GITHUB_REPOSITORY"),
        ({"GITHUB_TOKEN": ""}, "input github-token"),
    ],
)
def test_a_bad_value_names_its_input(change: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        settings_from_env(GITHUB | change)


def test_outputs_use_the_heredoc_form_with_a_random_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "out"
    write_outputs(path, {"verdict": "accepted", "model": "a\nb"})
    text = path.read_text()
    assert text.startswith("verdict<<ghadelimiter_") and text.count("ghadelimiter_") == 4
    assert read_outputs(path) == {"verdict": "accepted", "model": "a\nb"}
