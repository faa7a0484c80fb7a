"""Which API key a model server receives: only the one its own policy entry names, and never a GitHub token.

A key goes only to the model entry whose ``api_key_env`` names it: no backend falls back to a vendor's usual
variable (``OPENAI_API_KEY``), so a cloud key never reaches a local server that did not ask for it, and a server the
admin did not give a key gets none. GitHub's tokens can never be a model's key: a model server (local or cloud) that
received one could act on the repository with the workflow's or the App's rights.

Where GitHub tokens live (tests/data/github/FACTS.md §7): ``GITHUB_TOKEN`` (passed by workflows), ``GH_TOKEN`` (the
gh CLI), ``INPUT_<NAME>`` (an action's inputs, e.g. ``INPUT_GITHUB-TOKEN``), ``ACTIONS_*`` (the runner's own
tokens: ``ACTIONS_RUNTIME_TOKEN``, ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``), and Guardrail's own
``GUARDRAIL_GITHUB_TOKEN`` (the Action's ``github-token`` input) and ``GUARDRAIL_APP_*`` (the App's credentials).
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.errors import ConfigError
from bot.types import ModelSpec

GITHUB_TOKEN_NAMES = frozenset(
    {"GITHUB_TOKEN", "GH_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN", "GUARDRAIL_GITHUB_TOKEN"}
)
GITHUB_TOKEN_PREFIXES = ("GITHUB_", "ACTIONS_", "INPUT_", "GUARDRAIL_APP_")
# The prefixes of GitHub's token formats (GitHub docs, "About authentication to GitHub": ghp_ personal, gho_ OAuth,
# ghu_ user-to-server, ghs_ server-to-server such as GITHUB_TOKEN and installation tokens, ghr_ refresh,
# github_pat_ fine-grained personal).
GITHUB_TOKEN_VALUE_PREFIXES = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")


def github_token_reason(name: str) -> str | None:
    """Why ``name`` may hold a GitHub token (so it can never be a model's ``api_key_env``), or None when it may be one.

    Case-insensitive: environment names are case-sensitive on Linux, but ``github_token`` is no safer."""
    upper = name.upper()
    if upper == "GUARDRAIL_WEBHOOK_SECRET":
        return f"{name} holds the App's webhook secret"
    if upper in GITHUB_TOKEN_NAMES:
        return f"{name} holds GitHub's token"
    prefix = next((p for p in GITHUB_TOKEN_PREFIXES if upper.startswith(p)), None)
    if prefix is not None:
        return f"{prefix}* variables hold GitHub's and the runner's tokens and settings"
    return None


def api_key_for(spec: ModelSpec, env: Mapping[str, str]) -> str | None:
    """The key to send to ``spec``'s server: the value of the variable its ``api_key_env`` names, else None.

    Raises ConfigError when ``api_key_env`` names a GitHub token (the policy loader refuses such a policy first)."""
    if not spec.api_key_env:
        return None
    reason = github_token_reason(spec.api_key_env)
    if reason is not None:
        raise ConfigError(
            f"{reason}; a model server never receives it: name the variable that holds the model's own key",
            key=f"models.{spec.name}.api_key_env",
        )
    value = env.get(spec.api_key_env) or None
    if value is not None and _is_github_secret(value, env):
        raise ConfigError(
            f"{spec.api_key_env} holds a GitHub token or the webhook secret (by its value); a model server never "
            "receives it: give the variable the model's own key",
            key=f"models.{spec.name}.api_key_env",
        )
    return value


def _is_github_secret(value: str, env: Mapping[str, str]) -> bool:
    """True when ``value`` has a GitHub token's prefix, or equals the value of a variable named for GitHub's tokens
    or the webhook secret (a token passed on under an innocent name)."""
    if value.strip().startswith(GITHUB_TOKEN_VALUE_PREFIXES):
        return True
    return any(env.get(name) == value for name in env if github_token_reason(name) is not None)
