"""The exception tree. Every error a user can see is one of these, with a message that says the likely cause.

GuardrailError
 ├── ConfigError          a config or policy file, a CLI flag or an Action input is wrong (exit 2)
 │    └── PolicyError     the policy is well-formed but denies or contradicts itself
 ├── ModelError           a model could not give a usable reply
 │    ├── ModelTimeout
 │    ├── ModelUnavailable  connection refused, 5xx after retries, missing key, missing extra
 │    └── ContextOverflow   the prompt cannot be made to fit the model's context
 ├── GateError            a gate could not run at all (not the same as a gate failing)
 └── GitHubError          the GitHub API refused or failed after retries
"""

from __future__ import annotations


class GuardrailError(Exception):
    """Base of every error Guardrail raises on purpose."""


class ConfigError(GuardrailError):
    """A configuration problem. ``where`` names the file (and line), ``key`` the key path, or a command-line flag
    when it starts with ``-`` (shown as "flag --limit", never as a key)."""

    def __init__(self, message: str, *, where: str | None = None, key: str | None = None) -> None:
        self.where = where
        self.key = key
        named = (f"flag {key}" if key.startswith("-") else f"key {key!r}") if key else None
        parts = [p for p in (where, named) if p]
        super().__init__(f"{': '.join(parts)}: {message}" if parts else message)


class PolicyError(ConfigError):
    """The policy denies what was asked, or a repository config asks for what the admin does not allow."""


class ModelError(GuardrailError):
    """A model could not give a usable reply."""


class ModelTimeout(ModelError):
    pass


class ModelUnavailable(ModelError):
    pass


class ContextOverflow(ModelError):
    pass


class ReplyParseError(ModelError):
    """The model's reply could not be turned into a patch or review comments; the message says why."""


class GateError(GuardrailError):
    """A gate could not run (git missing, a worktree could not be made); reported as status ``error``."""


class GitHubError(GuardrailError):
    """GitHub refused a request or failed after retries. ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)
