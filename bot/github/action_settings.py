"""What ``guardrail action`` reads from its environment: what GitHub sets, and the Action's inputs.

A composite action gets no ``INPUT_*`` variables, so ``action.yml`` passes each input explicitly:

    ====================  ===========================  =========================================
    input                 variable                     default
    ====================  ===========================  =========================================
    github-token          GUARDRAIL_GITHUB_TOKEN       $GITHUB_TOKEN
    purpose               GUARDRAIL_PURPOSE            review
    config                GUARDRAIL_CONFIG             .github/guardrail.yml (read at the BASE sha)
    admin-policy          GUARDRAIL_ADMIN_POLICY       the embedded default (path or inline YAML)
    fail-on               GUARDRAIL_FAIL_ON            rejected
    max-inline            GUARDRAIL_MAX_INLINE         20
    ====================  ===========================  =========================================

Every problem is a ConfigError that names the input or the variable, so the step fails saying what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from bot.config import REPO_CONFIG_PATH
from bot.errors import ConfigError
from bot.reporters.base import FAIL_ON, FailOn
from bot.types import PURPOSES, Purpose

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_MAX_INLINE = 20


@dataclass(frozen=True)
class ActionSettings:
    event_name: str
    event_path: Path
    repository: str
    api_url: str
    token: str
    workspace: Path
    step_summary: Path | None
    output: Path | None
    purpose: Purpose = "review"
    config_path: str = REPO_CONFIG_PATH
    admin_policy: str = ""
    fail_on: FailOn = "rejected"
    max_inline: int = DEFAULT_MAX_INLINE


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(
            "not set; GitHub Actions sets it for every step (running outside Actions? set it yourself)", where=name
        )
    return value


def _choice(env: Mapping[str, str], name: str, input_name: str, choices: tuple[str, ...], default: str) -> str:
    value = env.get(name, "").strip() or default
    if value not in choices:
        raise ConfigError(f"{value!r} is not one of {', '.join(choices)}", where=f"input {input_name} (${name})")
    return value


def _max_inline(env: Mapping[str, str]) -> int:
    raw = env.get("GUARDRAIL_MAX_INLINE", "").strip()
    if not raw:
        return DEFAULT_MAX_INLINE
    if not raw.isdigit():
        raise ConfigError(f"{raw!r} is not a whole number", where="input max-inline ($GUARDRAIL_MAX_INLINE)")
    return int(raw)


def _optional_path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name, "").strip()
    return Path(value) if value else None


def token_from_env(env: Mapping[str, str]) -> str:
    token = env.get("GUARDRAIL_GITHUB_TOKEN", "").strip() or env.get("GITHUB_TOKEN", "").strip()
    if not token:
        raise ConfigError(
            "no GitHub token: set the input (`github-token: ${{ github.token }}` is the default) or $GITHUB_TOKEN",
            where="input github-token ($GUARDRAIL_GITHUB_TOKEN)",
        )
    return token


def settings_from_env(env: Mapping[str, str]) -> ActionSettings:
    """The Action's settings from ``env``; a ConfigError naming the input or variable that is missing or wrong."""
    config_path = env.get("GUARDRAIL_CONFIG", "").strip() or REPO_CONFIG_PATH
    if config_path.startswith("/") or ".." in Path(config_path).parts:
        raise ConfigError(
            f"{config_path!r} must be a path inside the repository (it is read at the base revision)",
            where="input config ($GUARDRAIL_CONFIG)",
        )
    return ActionSettings(
        event_name=_required(env, "GITHUB_EVENT_NAME"),
        event_path=Path(_required(env, "GITHUB_EVENT_PATH")),
        repository=_required(env, "GITHUB_REPOSITORY"),
        api_url=env.get("GITHUB_API_URL", "").strip() or DEFAULT_API_URL,
        token=token_from_env(env),
        workspace=Path(env.get("GITHUB_WORKSPACE", "").strip() or "."),
        step_summary=_optional_path(env, "GITHUB_STEP_SUMMARY"),
        output=_optional_path(env, "GITHUB_OUTPUT"),
        purpose=cast(Purpose, _choice(env, "GUARDRAIL_PURPOSE", "purpose", PURPOSES, "review")),
        config_path=config_path,
        admin_policy=env.get("GUARDRAIL_ADMIN_POLICY", ""),
        fail_on=cast(FailOn, _choice(env, "GUARDRAIL_FAIL_ON", "fail-on", FAIL_ON, "rejected")),
        max_inline=_max_inline(env),
    )
