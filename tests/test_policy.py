"""The policy: deny by default, narrowing only, local first, cloud only when every level allows it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import jsonschema
import pytest

from bot.config import RepoConfig, load_repo_config, parse_yaml
from bot.errors import ConfigError, PolicyError
from bot.policy import (
    AdminPolicy,
    admin_policy_from_input,
    admin_schema,
    default_admin_policy,
    explain,
    explain_json,
    load_admin_policy,
    load_admin_policy_text,
    load_repo_config_with_lines,
    repo_schema,
    resolve,
    schema_text,
)
from bot.types import Purpose, Resolution, TemplateConfig

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "policies"

ADMIN = """\
models:
  coder-local: {backend: openai, url: "http://127.0.0.1:11434/v1", model: "qwen2.5-coder:7b", location: local}
  coder-cloud: {backend: anthropic, url: "https://api.anthropic.com", model: "claude-sonnet-4-5",
                api_key_env: ANTHROPIC_API_KEY, location: cloud}
  small-local: {backend: llamacpp, model: "", location: local}
purposes:
  review: {allow: [coder-local, coder-cloud]}
  patch:  {allow: [coder-local, coder-cloud, small-local]}
repos:
  "acme/payments": {local_only: true}
  "acme/*": {purposes: {patch: {allow: [coder-local]}}}
  "acme/pay*": {cloud_fallback: false}
  "*": {purposes: {review: {allow: [coder-local, coder-cloud]}}}
"""


@pytest.fixture
def admin() -> AdminPolicy:
    return load_admin_policy_text(ADMIN, "admin.yml")


def _resolve(admin: AdminPolicy, repo_text: str | None, repo: str | None, purpose: Purpose = "patch") -> Resolution:
    where = "main:.github/guardrail.yml"
    config, lines = load_repo_config_with_lines(repo_text, where)
    return resolve(admin, config, repo, purpose, repo_config_where=where, repo_config_lines=lines)


def _names(resolution: Resolution) -> list[str]:
    return [spec.name for spec in resolution.candidates]


def _reasons(resolution: Resolution) -> dict[str, str]:
    return {e.model: e.reason for e in resolution.excluded}


# --- resolve ---------------------------------------------------------------------------------------------------


def test_local_models_come_first_even_when_the_repository_prefers_the_cloud(admin: AdminPolicy) -> None:
    repo = "purposes:\n  patch: {models: [coder-cloud, small-local, coder-local]}\n"
    resolution = _resolve(admin, repo, "octo/web")
    assert _names(resolution) == ["small-local", "coder-local", "coder-cloud"]
    assert resolution.cloud_allowed and not resolution.local_only
    assert resolution.candidates[2].api_key_env == "ANTHROPIC_API_KEY"


def test_no_repository_config_means_the_admin_order(admin: AdminPolicy) -> None:
    assert _names(_resolve(admin, None, "octo/web")) == ["coder-local", "small-local", "coder-cloud"]


def test_deny_by_default_a_model_not_allowed_for_the_purpose_is_never_a_candidate(admin: AdminPolicy) -> None:
    resolution = _resolve(admin, None, "octo/web", "review")
    assert "small-local" not in _names(resolution)
    assert _reasons(resolution)["small-local"] == "not allowed for review by the admin policy"


def test_a_purpose_the_admin_does_not_list_has_no_candidates() -> None:
    admin = load_admin_policy_text(
        "models:\n  m: {backend: llamacpp, model: '', location: local}\npurposes:\n  review: {allow: [m]}\n", "a.yml"
    )
    resolution = _resolve(admin, None, "octo/web", "patch")
    assert resolution.candidates == ()
    assert "no model will be asked to patch" in explain(resolution)


def test_repository_naming_a_model_the_admin_narrowed_out_is_an_error_with_file_line_and_key(
    admin: AdminPolicy,
) -> None:
    repo = "# prefer local\npurposes:\n  patch:\n    models: [coder-local, coder-cloud]\n"
    with pytest.raises(PolicyError) as info:
        _resolve(admin, repo, "acme/web")
    message = str(info.value)
    assert message.startswith("main:.github/guardrail.yml:4: key 'purposes.patch.models.1':")
    assert "'coder-cloud' is not allowed for patch on acme/web" in message
    assert "'acme/*'" in message and "allowed here: coder-local" in message


def test_repository_naming_an_unknown_model_is_an_error(admin: AdminPolicy) -> None:
    with pytest.raises(PolicyError, match=r"guardrail.yml:2: key 'purposes.review.models.0': unknown model 'gpt-x'"):
        _resolve(admin, "purposes:\n  review: {models: [gpt-x]}\n", "octo/web", "review")


def test_repository_cannot_widen_what_the_admin_entry_allows(admin: AdminPolicy) -> None:
    resolution = _resolve(admin, None, "acme/web")
    assert _names(resolution) == ["coder-local"]
    assert _reasons(resolution)["coder-cloud"] == "narrowed out by the admin policy for 'acme/*'"


def test_repository_narrowing_leaves_out_the_models_it_does_not_list(admin: AdminPolicy) -> None:
    resolution = _resolve(admin, "purposes:\n  patch: {models: [coder-local]}\n", "octo/web")
    assert _names(resolution) == ["coder-local"]
    assert "narrowed out by the repository" in _reasons(resolution)["coder-cloud"]


def test_local_only_repository_excludes_every_cloud_model_whatever_the_repository_asks(admin: AdminPolicy) -> None:
    resolution = _resolve(
        admin, "purposes:\n  review: {models: [coder-cloud, coder-local]}\n", "acme/payments", "review"
    )
    assert _names(resolution) == ["coder-local"]
    assert _reasons(resolution)["coder-cloud"] == "local-only repository (admin policy for 'acme/payments')"
    assert resolution.local_only and not resolution.cloud_allowed


def test_cloud_fallback_off_in_the_repository_config(admin: AdminPolicy) -> None:
    resolution = _resolve(admin, "cloud_fallback: false\n", "octo/web", "review")
    assert _names(resolution) == ["coder-local"]
    assert _reasons(resolution)["coder-cloud"] == "cloud fallback off in main:.github/guardrail.yml"
    assert not resolution.cloud_allowed


def test_the_repository_cannot_turn_cloud_fallback_on_against_the_admin(admin: AdminPolicy) -> None:
    resolution = _resolve(admin, "cloud_fallback: true\n", "acme/payroll", "review")
    assert _names(resolution) == ["coder-local"]
    assert _reasons(resolution)["coder-cloud"] == "cloud fallback off by the admin policy for 'acme/pay*'"


def test_purpose_disabled_by_the_repository(admin: AdminPolicy) -> None:
    resolution = _resolve(admin, "purposes:\n  patch: {enabled: false}\n", "octo/web")
    assert resolution.candidates == ()
    assert all("purpose disabled by the repository" in r for r in _reasons(resolution).values())


def test_unknown_purpose_in_the_repository_config_is_refused(admin: AdminPolicy) -> None:
    with pytest.raises(ConfigError, match=r"guardrail.yml:2: key 'purposes.pach': unknown purpose 'pach'"):
        _resolve(admin, "purposes:\n  pach: {models: [coder-local]}\n", "octo/web")
    # a RepoConfig loaded elsewhere (without lines) is refused by resolve as well
    config = load_repo_config("purposes:\n  pach: {models: [coder-local]}\n")
    with pytest.raises(PolicyError, match="unknown purpose 'pach'"):
        resolve(admin, config, "octo/web", "patch")


# --- which repos entry applies ---------------------------------------------------------------------------------


def test_exact_name_beats_every_glob_and_longer_globs_beat_shorter(admin: AdminPolicy) -> None:
    assert _resolve(admin, None, "acme/payments", "review").local_only  # exact, not "acme/pay*" nor "acme/*"
    payroll = _resolve(admin, None, "acme/payroll", "review")  # "acme/pay*" (8 literal characters) over "acme/*" (5)
    assert not payroll.local_only and not payroll.cloud_allowed
    assert _names(_resolve(admin, None, "ACME/Web")) == ["coder-local"]  # GitHub names are case-insensitive


def test_equally_specific_globs_are_an_error_not_a_guess() -> None:
    text = ADMIN.replace('  "*":', '  "*e/web": {local_only: true}\n  "*":')  # 5 literal characters, as "acme/*"
    admin = load_admin_policy_text(text, "admin.yml")
    with pytest.raises(PolicyError, match=r"'acme/\*' and '\*e/web' both match 'acme/web' equally specifically"):
        _resolve(admin, None, "acme/web")


def test_without_a_repository_name_no_cloud_model_is_asked_when_the_admin_names_repositories(
    admin: AdminPolicy,
) -> None:
    resolution = _resolve(admin, None, None)
    assert admin.repos  # the fixture policy names repositories
    assert _names(resolution) == ["coder-local", "small-local"]
    assert not resolution.cloud_allowed
    reasons = {e.model: e.reason for e in resolution.excluded}
    assert reasons["coder-cloud"].startswith("repository name unknown while the admin policy names repositories")


# --- loading the admin policy: every problem, with file, line and key path ------------------------------------


def _problems(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_admin_policy_text(text, "admin.yml")
    return str(info.value)


def test_unknown_key_names_file_line_and_key_path() -> None:
    message = _problems(ADMIN.replace("location: cloud}", "location: cloud, api_key: sk-123}"))
    assert "admin.yml:4: key 'models.coder-cloud.api_key': unknown key" in message


def test_unknown_model_name_in_an_allow_list() -> None:
    message = _problems(ADMIN.replace("review: {allow: [coder-local, coder-cloud]}", "review: {allow: [coder-locl]}"))
    assert "admin.yml:7: key 'purposes.review.allow.0': unknown model 'coder-locl'" in message


def test_unknown_purpose() -> None:
    message = _problems(ADMIN.replace("  patch:  {allow", "  deploy:  {allow"))
    assert "admin.yml:8: key 'purposes.deploy': unknown key" in message


def test_a_repos_entry_cannot_allow_what_the_top_level_does_not() -> None:
    message = _problems(ADMIN.replace("{patch: {allow: [coder-local]}}", "{review: {allow: [small-local]}}"))
    assert "admin.yml:11: key 'repos.acme/*.purposes.review.allow.0'" in message
    assert "not in the top-level purposes.review.allow" in message


def test_every_problem_is_reported_at_once_in_line_order() -> None:
    text = (
        ADMIN.replace("location: local}", "location: locl}", 1)
        .replace("acme/payments", "acme")
        .replace("allow: [coder-local]}", "allow: [coder-lokal]}")
    )
    message = _problems(text)
    assert message.startswith("3 problems:")
    first, second, third = message.splitlines()[1:]
    assert "admin.yml:2: key 'models.coder-local.location'" in first
    assert "admin.yml:10: key 'repos.acme'" in second
    assert "admin.yml:11: key 'repos.acme/*.purposes.patch.allow.0': unknown model 'coder-lokal'" in third


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("{backend: openai, model: m, location: local}", "backend 'openai' needs a 'url'"),
        ("{backend: openai, url: 'ftp://x', model: m, location: local}", "must be an http:// or https:// URL"),
        ("{backend: openai, url: 'http://x', model: m}", "key 'models.m.location': Field required"),
        ("{backend: gpt, model: m, location: local}", "key 'models.m.backend': Input should be"),
        ("{backend: anthropic, url: 'https://x', model: m, location: cloud, api_key_env: 'sk-ant-1'}", "never the key"),
        ("{backend: openai, url: 'https://x', model: m, location: cloud, api_key_env: GITHUB_TOKEN}", "GitHub's token"),
        ("{backend: openai, url: 'https://me:pw@x/v1', model: m, location: cloud}", "without user:password@"),
        ("{backend: llamacpp, model: '', location: local, template: chatm}", "unknown chat template; known: chatml"),
        ("{backend: llamacpp, model: '', location: local, context_length: 512}", "max_output_tokens must be less"),
    ],
)
def test_model_entries_are_checked(entry: str, expected: str) -> None:
    assert expected in _problems(f"models:\n  m: {entry}\n")


def test_a_key_given_twice_is_an_error_not_a_silent_override() -> None:
    message = _problems(ADMIN + '  "acme/payments": {local_only: false}\n')
    assert "admin.yml:14: key 'repos.acme/payments': key given twice" in message


def test_model_spec_carries_every_setting() -> None:
    text = (
        "models:\n  m: {backend: ollama, url: 'http://127.0.0.1:11434', model: 'q:7b', location: local,\n"
        "       context_length: 4096, max_output_tokens: 256, timeout: 30, retries: 0, temperature: 0.2, seed: 7,\n"
        "       template: chatml}\npurposes:\n  patch: {allow: [m]}\n"
    )
    (spec,) = _resolve(load_admin_policy_text(text, "a.yml"), None, "x/y").candidates
    assert (spec.name, spec.backend, spec.model, spec.url) == ("m", "ollama", "q:7b", "http://127.0.0.1:11434")
    assert (spec.context_length, spec.max_output_tokens, spec.timeout, spec.retries) == (4096, 256, 30, 0)
    assert (spec.temperature, spec.seed, spec.template) == (0.2, 7, TemplateConfig(name="chatml"))


# --- the embedded default and where the policy comes from ----------------------------------------------------


def test_no_admin_policy_means_the_embedded_model_local_only(tmp_path: Path) -> None:
    admin = load_admin_policy(None, {})
    assert admin == default_admin_policy()
    for purpose in ("review", "patch"):
        resolution = _resolve(admin, None, "octo/web", purpose)
        (spec,) = resolution.candidates
        assert (spec.name, spec.backend, spec.model, spec.location) == ("embedded", "llamacpp", "", "local")
        assert (spec.context_length, spec.max_output_tokens) == (8192, 512)
        assert resolution.local_only and not resolution.cloud_allowed


def test_the_environment_names_the_admin_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(ADMIN)
    assert set(load_admin_policy(None, {"GUARDRAIL_ADMIN_POLICY": str(path)}).models) == {
        "coder-local",
        "coder-cloud",
        "small-local",
    }
    with pytest.raises(ConfigError, match=r"nope.yml \(from \$GUARDRAIL_ADMIN_POLICY\): cannot read"):
        load_admin_policy(None, {"GUARDRAIL_ADMIN_POLICY": str(tmp_path / "nope.yml")})


def test_action_input_is_a_path_or_inline_yaml(tmp_path: Path) -> None:
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "policy.yml").write_text(ADMIN)
    assert "coder-cloud" in admin_policy_from_input(".github/policy.yml", tmp_path).models
    assert "coder-cloud" in admin_policy_from_input(ADMIN, tmp_path).models
    assert admin_policy_from_input("  ", tmp_path) == default_admin_policy()
    with pytest.raises(ConfigError, match="input admin-policy: no such file"):
        admin_policy_from_input("policy.yml", tmp_path)
    with pytest.raises(ConfigError, match="input admin-policy: no such file"):
        admin_policy_from_input("config/guardrail-policy", tmp_path)  # no ':' so not YAML: a path, and missing
    assert admin_policy_from_input("{models: {}}", tmp_path).models == {}  # one line of flow YAML
    with pytest.raises(ConfigError, match=r"input admin-policy:2: key 'models\.m\.api_key': unknown key"):
        admin_policy_from_input("models:\n  m: {backend: llamacpp, model: '', location: local, api_key: x}\n", tmp_path)


# --- explain ---------------------------------------------------------------------------------------------------


def test_explain_lists_candidates_in_order_and_every_exclusion(admin: AdminPolicy) -> None:
    text = explain(_resolve(admin, None, "acme/payments", "review"))
    assert "1. coder-local (local, openai qwen2.5-coder:7b at http://127.0.0.1:11434/v1)" in text
    assert "- coder-cloud: local-only repository (admin policy for 'acme/payments')" in text
    assert "- small-local: not allowed for review by the admin policy" in text
    assert "cloud fallback: not allowed" in text


def test_explain_json(admin: AdminPolicy) -> None:
    data = explain_json(_resolve(admin, None, "octo/web", "review"))
    assert [c["name"] for c in data["candidates"]] == ["coder-local", "coder-cloud"]
    assert data["candidates"][1]["location"] == "cloud"
    assert data["excluded"] == [{"model": "small-local", "reason": "not allowed for review by the admin policy"}]
    assert json.loads(json.dumps(data)) == data


# --- JSON Schemas, examples and docs -------------------------------------------------------------------------


@pytest.mark.parametrize(("which", "name"), [("admin", "admin-policy"), ("repo", "repo-config")])
def test_committed_schema_is_what_the_code_generates(which: Literal["admin", "repo"], name: str) -> None:
    committed = (ROOT / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(which), "run `guardrail policy schema --out schemas` and commit the result"


def _yaml(path: Path) -> object:
    return parse_yaml(path.read_text(encoding="utf-8"), str(path))[0]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("admin*.yml")), ids=lambda p: p.name)
def test_admin_examples_pass_the_schema_and_the_loader(path: Path) -> None:
    jsonschema.Draft202012Validator(admin_schema()).validate(_yaml(path))
    load_admin_policy(path, {})


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("repo*.yml")), ids=lambda p: p.name)
def test_repo_examples_pass_the_schema_and_resolve_against_the_example_admin(path: Path) -> None:
    jsonschema.Draft202012Validator(repo_schema()).validate(_yaml(path))
    config, lines = load_repo_config_with_lines(path.read_text(encoding="utf-8"), str(path))
    admin = load_admin_policy(EXAMPLES / "admin.yml", {})
    assert isinstance(config, RepoConfig)
    resolve(admin, config, "octo/web", "patch", repo_config_where=str(path), repo_config_lines=lines)


@pytest.mark.parametrize(
    ("schema", "data"),
    [
        ("admin", {"models": {"m": {"backend": "openai", "model": "x", "location": "local"}}}),  # no url
        ("admin", {"models": {"m": {"backend": "llamacpp", "model": "", "location": "local", "api_key": "k"}}}),
        ("admin", {"models": {}, "repos": {"acme": {}}}),  # a glob must be owner/name
        ("admin", {"models": {}, "purposes": {"deploy": {"allow": []}}}),
        ("admin", {"models": {"m": {"backend": "openai", "url": "ftp://x", "model": "x", "location": "local"}}}),
        ("admin", {"models": {"m": {"backend": "llamacpp", "model": "", "location": "local", "template": "x"}}}),
        (
            "admin",
            {"models": {"m": {"backend": "llamacpp", "model": "", "location": "local", "api_key_env": "GH_TOKEN"}}},
        ),
        ("repo", {"purposes": {"pach": {"models": []}}}),
        ("repo", {"cloud_fallback": "maybe"}),
    ],
)
def test_schema_rejects_what_the_loader_rejects(schema: str, data: dict[str, object]) -> None:
    validator = jsonschema.Draft202012Validator(admin_schema() if schema == "admin" else repo_schema())
    assert list(validator.iter_errors(data))


def test_docs_document_every_key_of_both_files() -> None:
    docs = (ROOT / "docs" / "policy.md").read_text(encoding="utf-8")
    admin, repo = admin_schema(), repo_schema()
    keys = set(admin["properties"]) | set(repo["properties"]) | set(repo["$defs"]["RepoPurpose"]["properties"])
    for definition in admin["$defs"].values():
        keys |= set(definition.get("properties", {}))
    # the gates' keys of the repository config are documented in docs/config.md
    missing = sorted(key for key in keys if f"`{key}`" not in docs)
    assert not missing, f"docs/policy.md does not document: {missing}"


def _admin_policy_inputs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k == "admin-policy" and isinstance(v, str) and "\n" in v]
        return found + [text for v in node.values() for text in _admin_policy_inputs(v)]
    if isinstance(node, list):
        return [text for item in node for text in _admin_policy_inputs(item)]
    return []


def test_inline_admin_policies_in_the_example_workflows_load(tmp_path: Path) -> None:
    inputs = [
        (path.name, text)
        for path in sorted((ROOT / "examples" / "workflows").glob("*.yml"))
        for text in _admin_policy_inputs(_yaml(path))
    ]
    assert inputs, "the example workflows show an inline admin-policy input"
    for name, text in inputs:
        assert admin_policy_from_input(text, tmp_path).models, name
