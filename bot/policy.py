"""Which models may be asked, for one repository and purpose: the admin policy, narrowed by the repository.

Deny by default. The admin policy (``bot.policy_model``) names the models and the purposes each may serve; its
``repos`` entry for the repository (the most specific glob) can only narrow that; the repository's
``.github/guardrail.yml`` (read from the base revision) can only narrow it further and order it. Cloud models come
last, and only when the admin entry, the repository and ``local_only`` all allow a fallback. ``resolve`` gives the
ordered candidates and every model left out with its reason; ``explain`` says it in words.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from bot.config import REPO_CONFIG_PATH, RepoConfig
from bot.errors import PolicyError
from bot.policy_model import (
    ADMIN_POLICY_ENV,
    AdminPolicy,
    RepoRule,
    admin_policy_from_input,
    admin_policy_problems,
    admin_policy_source,
    default_admin_policy,
    load_admin_policy,
    load_admin_policy_text,
)
from bot.policy_problems import Lines, Problem, problem_at, raise_problems, text_problems
from bot.types import PURPOSES, Exclusion, ModelSpec, Purpose, Resolution

__all__ = [
    "ADMIN_POLICY_ENV",
    "AdminPolicy",
    "RepoMatch",
    "admin_policy_from_input",
    "admin_policy_problems",
    "admin_policy_source",
    "admin_schema",
    "check_repo_against",
    "default_admin_policy",
    "explain",
    "explain_json",
    "load_admin_policy",
    "load_admin_policy_text",
    "load_repo_config_with_lines",
    "match_repo",
    "repo_config_problems",
    "repo_schema",
    "resolve",
    "schema_text",
]


# --- the repository's file, with its line map -----------------------------------------------------------------


def repo_config_problems(text: str | None, where: str) -> tuple[RepoConfig | None, Lines, list[Problem]]:
    """Every problem of a repository config text on its own (None = the file does not exist: the defaults)."""
    if text is None:
        return RepoConfig(), {}, []

    def purposes(data: object, lines: Lines) -> list[Problem]:
        listed = data.get("purposes") if isinstance(data, dict) else None
        return _unknown_purposes(listed if isinstance(listed, dict) else {}, where, lines)

    return text_problems(text, RepoConfig, where, purposes)


def load_repo_config_with_lines(text: str | None, where: str = REPO_CONFIG_PATH) -> tuple[RepoConfig, Lines]:
    """The repository config and its map from key path to line, for ``resolve(..., repo_config_lines=)``."""
    config, lines, problems = repo_config_problems(text, where)
    raise_problems(problems)
    assert config is not None  # no problems means a config
    return config, lines


def _unknown_purposes(purposes: Iterable[object], where: str, lines: Lines) -> list[Problem]:
    known = ", ".join(PURPOSES)
    return [
        problem_at(where, ("purposes", str(key)), lines, f"unknown purpose {key!r}; the purposes are: {known}")
        for key in purposes
        if key not in PURPOSES
    ]


# --- which admin entry applies --------------------------------------------------------------------------------


def _specificity(glob: str) -> tuple[int, int]:
    """(1 for an exact name, else 0; characters that are not wildcards). Higher is more specific."""
    literal = re.sub(r"\[[^\]]*\]|[*?]", "", glob)
    exact = literal == glob
    return (1 if exact else 0, len(literal))


@dataclass(frozen=True)
class RepoMatch:
    """The admin policy's ``repos`` entry that applies to a repository, and the glob it is filed under."""

    glob: str
    rule: RepoRule


def match_repo(admin: AdminPolicy, repo_name: str | None) -> RepoMatch | None:
    """The ``repos`` entry that applies to ``owner/name``: an exact name beats any glob; among globs, the one with
    the most non-wildcard characters. Two equally specific matches are an error (fail closed, ask the admin)."""
    if not repo_name:
        return None
    name = repo_name.lower()
    matches = [RepoMatch(glob, rule) for glob, rule in admin.repos.items() if fnmatch.fnmatchcase(name, glob.lower())]
    if not matches:
        return None
    matches.sort(key=lambda match: _specificity(match.glob), reverse=True)
    if len(matches) > 1 and _specificity(matches[0].glob) == _specificity(matches[1].glob):
        raise PolicyError(
            f"repos entries {matches[0].glob!r} and {matches[1].glob!r} both match {repo_name!r} equally "
            "specifically; make one of them more specific or add an entry for the exact name",
            key="repos",
        )
    return matches[0]


# --- resolve ---------------------------------------------------------------------------------------------------


def _admin_allowed(admin: AdminPolicy, match: RepoMatch | None, purpose: Purpose) -> list[str]:
    top = admin.allowed(purpose)
    narrowing = match.rule.purposes.get(purpose) if match else None
    return [name for name in top if narrowing is None or name in narrowing.allow]


def _repo_list_problems(
    admin: AdminPolicy,
    config: RepoConfig,
    match: RepoMatch | None,
    repo_name: str | None,
    purpose: Purpose,
    where: str,
    lines: Lines,
) -> list[Problem]:
    """A repository asking for a model the admin does not allow it: never called, and the run refuses to start."""
    listed = config.purposes.get(purpose)
    if listed is None:
        return []
    allowed = _admin_allowed(admin, match, purpose)
    repo = repo_name or "this repository"
    problems = []
    for index, name in enumerate(listed.models):
        loc = ("purposes", purpose, "models", index)
        if name in listed.models[:index]:
            problems.append(problem_at(where, loc, lines, f"model {name!r} is listed twice"))
        elif name not in admin.models:
            message = f"unknown model {name!r}: the admin policy does not define it; allowed here: "
            problems.append(problem_at(where, loc, lines, message + (", ".join(allowed) or "none")))
        elif name not in allowed:
            by = f" (narrowed by its entry {match.glob!r})" if match and name in admin.allowed(purpose) else ""
            message = (
                f"model {name!r} is not allowed for {purpose} on {repo} by the admin policy{by}; allowed here: "
                f"{', '.join(allowed) or 'none'}. Remove it, or ask the admin to allow it"
            )
            problems.append(problem_at(where, loc, lines, message))
    return problems


UNKNOWN_NAME_REASON = (
    "repository name unknown while the admin policy names repositories (it could be one marked local-only); "
    "pass --repo-name owner/name or give the checkout an origin remote"
)


def _cloud_reason(
    admin: AdminPolicy,
    match: RepoMatch | None,
    config: RepoConfig,
    where: str,
    repo_name: str | None,
    unknown_because: str | None = None,
) -> str | None:
    """Why no cloud model may be asked here, or None when the fallback is allowed."""
    if admin.local_only:
        return "local-only repository (the admin policy's local_only)"
    if match and match.rule.local_only:
        return f"local-only repository (admin policy for {match.glob!r})"
    if not admin.cloud_fallback:
        return "cloud fallback off by the admin policy"
    if match and not match.rule.cloud_fallback:
        return f"cloud fallback off by the admin policy for {match.glob!r}"
    if not config.cloud_fallback:
        return f"cloud fallback off in {where}"
    if not repo_name and admin.repos:
        if unknown_because:
            return f"{UNKNOWN_NAME_REASON.split(';')[0]}: {unknown_because}"
        return UNKNOWN_NAME_REASON
    return None


def resolve(
    admin: AdminPolicy,
    repo_config: RepoConfig,
    repo_name: str | None,
    purpose: Purpose,
    *,
    repo_config_where: str = REPO_CONFIG_PATH,
    repo_config_lines: Lines | None = None,
    unknown_because: str | None = None,
) -> Resolution:
    """The ordered candidates for one repository and purpose, and every model left out with its reason.
    ``unknown_because`` says why ``repo_name`` is None when a name was given but refused (``bot.identity``).

    Raises PolicyError (naming ``repo_config_where``, the line from ``repo_config_lines`` — as returned by
    ``load_repo_config_with_lines`` or ``bot.config.parse_yaml`` — and the key path) when the repository config
    names a model the admin does not allow for this repository and purpose, or an unknown purpose.
    """
    where, lines = repo_config_where, repo_config_lines or {}
    match = match_repo(admin, repo_name)
    raise_problems(_repo_problems(admin, repo_config, match, repo_name, (purpose,), where, lines), PolicyError)

    allowed = _admin_allowed(admin, match, purpose)
    listed = repo_config.purposes.get(purpose)
    preference = list(listed.models) if listed and listed.models else allowed
    cloud_reason = _cloud_reason(admin, match, repo_config, where, repo_name, unknown_because)
    enabled = listed is None or listed.enabled

    excluded: list[Exclusion] = []
    for name, entry in admin.models.items():
        reason = None
        if name not in admin.allowed(purpose):
            reason = f"not allowed for {purpose} by the admin policy"
        elif name not in allowed:
            reason = (
                f"narrowed out by the admin policy for {match.glob!r}" if match else "not allowed by the admin policy"
            )
        elif entry.location == "cloud" and cloud_reason:
            reason = cloud_reason
        elif name not in preference:
            reason = f"narrowed out by the repository ({where} purposes.{purpose}.models)"
        elif not enabled:
            reason = f"purpose disabled by the repository ({where} purposes.{purpose}.enabled)"
        if reason:
            excluded.append(Exclusion(name, reason))

    left_out = {e.model for e in excluded}
    ordered = [admin.models[name].spec(name) for name in preference if name not in left_out]
    candidates = [s for s in ordered if s.location == "local"] + [s for s in ordered if s.location == "cloud"]
    local_only = admin.local_only or bool(match and match.rule.local_only)
    top, narrowed = admin.purposes.get(purpose), match.rule.purposes.get(purpose) if match else None
    unfixed = next((a.post_without_fix for a in (narrowed, top) if a and a.post_without_fix is not None), False)
    return Resolution(
        purpose=purpose,
        repo_name=repo_name,
        candidates=tuple(candidates),
        excluded=tuple(excluded),
        cloud_allowed=cloud_reason is None,
        local_only=local_only,
        post_without_fix=unfixed,
    )


def check_repo_against(
    admin: AdminPolicy, config: RepoConfig, repo_name: str | None, where: str, lines: Lines
) -> list[Problem]:
    """Every problem ``resolve`` would raise for any purpose (for ``guardrail policy check``)."""
    try:
        match = match_repo(admin, repo_name)
    except PolicyError as exc:
        return [Problem("admin policy", "repos", str(exc).removeprefix("key 'repos': "))]
    return _repo_problems(admin, config, match, repo_name, PURPOSES, where, lines)


def _repo_problems(
    admin: AdminPolicy,
    config: RepoConfig,
    match: RepoMatch | None,
    repo_name: str | None,
    purposes: Iterable[Purpose],
    where: str,
    lines: Lines,
) -> list[Problem]:
    """What makes a repository config unusable under the admin policy: an unknown purpose, or a model asked for
    that the admin does not allow it (checked for ``purposes``)."""
    problems = _unknown_purposes(config.purposes, where, lines)
    for purpose in purposes:
        problems += _repo_list_problems(admin, config, match, repo_name, purpose, where, lines)
    return problems


# --- explain ---------------------------------------------------------------------------------------------------


def _describe(spec: ModelSpec) -> str:
    model = spec.model or "the embedded SmolLM2-135M"
    at = f" at {spec.url}" if spec.url else ""
    return f"{spec.location}, {spec.backend} {model}{at}"


def explain(resolution: Resolution) -> str:
    """The resolution in words: the candidates in the order they are tried, then every model left out and why."""
    repo = resolution.repo_name or "(no repository name: no repos entry applies)"
    out = [f"repository: {repo}", f"purpose: {resolution.purpose}"]
    if resolution.candidates:
        out.append("candidates, in the order they are tried:")
        for number, spec in enumerate(resolution.candidates, 1):
            fallback = "  <- only if the local ones fail the gates or error" if spec.location == "cloud" else ""
            out.append(f"  {number}. {spec.name} ({_describe(spec)}){fallback}")
    else:
        out.append(f"candidates: none; no model will be asked to {resolution.purpose} here")
    if resolution.excluded:
        out.append("left out:")
        out += [f"  - {e.model}: {e.reason}" for e in resolution.excluded]
    if not resolution.cloud_allowed:
        out.append("cloud fallback: not allowed")
    elif any(spec.location == "cloud" for spec in resolution.candidates):
        out.append("cloud fallback: allowed")
    else:
        out.append("cloud fallback: allowed, but no cloud model is left for this purpose")
    if resolution.local_only:
        out.append("local-only: yes (no code of this repository leaves your machines)")
    return "\n".join(out)


def explain_json(resolution: Resolution) -> dict[str, Any]:
    """The resolution as plain JSON data (``guardrail policy explain --json``)."""
    return {
        "repo_name": resolution.repo_name,
        "purpose": resolution.purpose,
        "candidates": [
            {"name": s.name, "backend": s.backend, "model": s.model, "location": s.location, "url": s.url}
            for s in resolution.candidates
        ],
        "excluded": [{"model": e.model, "reason": e.reason} for e in resolution.excluded],
        "cloud_allowed": resolution.cloud_allowed,
        "local_only": resolution.local_only,
    }


# --- JSON Schema -----------------------------------------------------------------------------------------------

_DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FILES: dict[str, str] = {"admin": "admin-policy.schema.json", "repo": "repo-config.schema.json"}


def admin_schema() -> dict[str, Any]:
    """JSON Schema of the admin policy, generated from the models that validate it."""
    schema = AdminPolicy.model_json_schema()
    return {"$schema": _DRAFT, **schema, "title": "Guardrail admin policy"}


def repo_schema() -> dict[str, Any]:
    """JSON Schema of ``.github/guardrail.yml``, generated from ``RepoConfig``.

    One addition the model's type cannot carry: purpose keys are limited to the known purposes, as ``resolve`` and
    ``guardrail policy check`` require.
    """
    schema = RepoConfig.model_json_schema()
    schema["properties"]["purposes"]["propertyNames"] = {"enum": list(PURPOSES)}
    return {"$schema": _DRAFT, **schema, "title": "Guardrail repository config (.github/guardrail.yml)"}


def schema_text(which: Literal["admin", "repo"]) -> str:
    """The committed form of a schema file: indented JSON, keys in generation order, one trailing newline."""
    schema = admin_schema() if which == "admin" else repo_schema()
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
