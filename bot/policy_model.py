"""The admin policy file: its pydantic models, its loader, and the embedded default policy.

The admin policy names every model Guardrail may call and who may use it; the repository's ``.github/guardrail.yml``
can only narrow it (see ``bot.policy.resolve``). Unknown keys, unknown model names, unknown purposes and duplicate
keys are errors naming the file, the line and the key path. Every key is documented in ``docs/policy.md``; the JSON
Schema in ``schemas/admin-policy.schema.json`` is generated from these models (``guardrail policy schema``).

    models:
      coder-local: {backend: openai, url: "http://127.0.0.1:11434/v1", model: "qwen2.5-coder:7b", location: local}
    purposes:
      review: {allow: [coder-local]}
      patch:  {allow: [coder-local]}
    repos:
      "acme/payments": {local_only: true}
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bot.errors import ConfigError
from bot.models.keys import GITHUB_TOKEN_NAMES, GITHUB_TOKEN_PREFIXES, github_token_reason
from bot.policy_problems import Lines, Problem, problem_at, raise_problems, text_problems
from bot.templates import BUILTINS
from bot.templates.jinja import compile_template
from bot.types import PURPOSES, GateCeiling, JailLimits, Location, ModelSpec, Purpose, TemplateConfig
from bot.yaml_text import read_config_file

ADMIN_POLICY_ENV = "GUARDRAIL_ADMIN_POLICY"
ACTION_INPUT = "admin-policy"

Backend = Literal["openai", "ollama", "anthropic", "llamacpp"]
URL_BACKENDS: tuple[str, ...] = ("openai", "ollama", "anthropic")
TEMPLATE_BACKENDS: tuple[str, ...] = ("openai", "ollama", "llamacpp")  # the ones that can take a raw prompt
_URL_PATTERN = r"^https?://[^\s/@]+([/?#]\S*)?$"
_ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
ModelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
RepoGlob = Annotated[str, StringConstraints(pattern=r"^(\*|[^/\s]+/[^/\s]+)$")]


def _any_case(text: str) -> str:
    """A JSON Schema (ECMA 262) pattern matching ``text`` in any letter case: no inline flags there."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in text)


# api_key_env: a variable name that is not one of GitHub's tokens (bot.models.keys).
_API_KEY_ENV_SCHEMA: dict[str, Any] = {
    "pattern": _ENV_NAME_PATTERN,
    "not": {
        "anyOf": [
            {"enum": sorted(GITHUB_TOKEN_NAMES)},
            {"pattern": "^(" + "|".join(_any_case(p) for p in GITHUB_TOKEN_PREFIXES) + ")"},
        ]
    },
}
# A mapping keyed by a pattern: the schema must reject keys that miss the pattern, as the model does.
_NO_OTHER_KEYS: dict[str, Any] = {"additionalProperties": False}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Price(_Strict):
    """What a model costs, in US dollars per million tokens (the provider's published price list)."""

    input: float = Field(ge=0, description="US dollars per million prompt (input) tokens.")
    output: float = Field(ge=0, description="US dollars per million completion (output) tokens.")


def _builtin_names() -> list[JsonValue]:
    return list(sorted(BUILTINS))


def _name_or_pin(schema: dict[str, JsonValue]) -> None:
    """The schema of ``template`` also takes the built-in name shorthand (``template: chatml``)."""
    choices = schema["anyOf"]
    assert isinstance(choices, list)
    choices.insert(0, {"type": "string", "enum": _builtin_names()})


class TemplatePin(_Strict):
    """A model's chat template, pinned: Guardrail renders it and sends the prompt raw. Exactly one source."""

    model_config = ConfigDict(populate_by_name=True)

    name: str | None = Field(None, description="A built-in template.", json_schema_extra={"enum": _builtin_names()})
    file: str | None = Field(
        None, description="A Jinja file; a relative path is relative to the admin policy file's directory."
    )
    jinja: str | None = Field(None, description="The Jinja template text, inline.")
    from_: Literal["runtime"] | None = Field(
        None,
        alias="from",
        description="runtime: the template the model carries (a GGUF's tokenizer.chat_template; an HTTP server "
        "applies its own and `guardrail template-check` compares it).",
    )
    bos_token: str | None = Field(None, description="The BOS token text (default: the GGUF's, else the built-in's).")
    eos_token: str | None = Field(None, description="The EOS token text (default: the GGUF's, else the built-in's).")
    add_bos: bool | None = Field(
        None, description="Does the runtime prepend BOS to a raw prompt (default: the GGUF's add_bos_token)."
    )
    stop: list[str] = Field(default_factory=list, description="Strings that end a reply (default: the EOS token).")

    @field_validator("name")
    @classmethod
    def _known_name(cls, name: str | None) -> str | None:
        if name is not None and name not in BUILTINS:
            known = ", ".join(sorted(BUILTINS))
            raise PydanticCustomError("template", "unknown chat template; known: {known}", {"known": known})
        return name

    @field_validator("jinja")
    @classmethod
    def _parses(cls, text: str | None) -> str | None:
        if text is not None:
            try:
                compile_template(text)
            except ConfigError as exc:
                raise PydanticCustomError("jinja", "{message}", {"message": str(exc)}) from None
        return text

    @model_validator(mode="after")
    def _one_source(self) -> TemplatePin:
        given = [key for key in ("name", "file", "jinja", "from_") if getattr(self, key) is not None]
        if len(given) != 1:
            raise PydanticCustomError(
                "template_source", "give exactly one of name, file, jinja or from: runtime (got {n})", {"n": len(given)}
            )
        return self

    def read_file(self, base_dir: Path | None, key: str) -> TemplatePin:
        """This pin with ``file``'s text in ``jinja``, read once when the policy is loaded (so what runs is what was
        checked). A relative path is relative to ``base_dir``, the policy file's directory; a policy that is not a
        file (inline YAML, read from git) must inline the template or give an absolute path. ``ConfigError`` naming
        the file when it cannot be read or does not parse."""
        if self.file is None:
            return self
        path = Path(os.path.expanduser(self.file))
        if not path.is_absolute():
            if base_dir is None:
                raise ConfigError(
                    f"{self.file!r} is relative, but this policy is not read from a file; give an absolute path or "
                    "inline the template with jinja:",
                    key=key,
                )
            path = base_dir / path
        try:
            text = read_config_file(path, str(path), "chat template")  # bounded: /dev/zero is an error, not a hang
        except ConfigError as exc:
            raise ConfigError(str(exc), key=key) from exc
        try:
            compile_template(text)
        except ConfigError as exc:
            raise ConfigError(str(exc), where=str(path), key=key) from exc
        return self.model_copy(update={"jinja": text})

    def config(self) -> TemplateConfig:
        """The pinned template as a value (``read_file`` has filled ``jinja`` for a ``file``)."""
        return TemplateConfig(
            name=self.name,
            jinja=self.jinja,
            file=self.file,
            runtime=self.from_ == "runtime",
            bos_token=self.bos_token,
            eos_token=self.eos_token,
            add_bos=self.add_bos,
            stop=tuple(self.stop),
        )


class ModelEntry(_Strict):
    """One model: how to reach it, and where the code goes when it is asked (the admin decides ``location``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "if": {"required": ["backend"], "properties": {"backend": {"enum": list(URL_BACKENDS)}}},
                    "then": {"required": ["url"]},
                }
            ]
        }
    )

    backend: Backend = Field(
        description="How to talk to it: openai (any OpenAI-compatible server), ollama, "
        "anthropic, or llamacpp (in-process, from a GGUF file)."
    )
    model: str = Field(description='The backend\'s model id; for llamacpp a GGUF path, or "" for the embedded model.')
    location: Location = Field(
        description="local: the code stays on machines you control. cloud: the code leaves them. Required; never "
        "guessed from the url."
    )
    url: str | None = Field(
        None,
        description="Base URL of the server (http or https, no user:password@). Required for openai, ollama and "
        "anthropic.",
        json_schema_extra={"pattern": _URL_PATTERN},
    )
    api_key_env: str | None = Field(
        None,
        description="Name of the environment variable that holds the API key. Never the key itself, and never the "
        "GitHub token.",
        json_schema_extra=_API_KEY_ENV_SCHEMA,
    )
    context_length: int = Field(8192, gt=0, description="Tokens the model can read and write in one request.")
    max_output_tokens: int = Field(
        1024, gt=0, description="Upper bound on the tokens of one reply; less than context_length."
    )
    timeout: float = Field(120, gt=0, description="Seconds before one request is abandoned.")
    retries: int = Field(2, ge=0, le=10, description="Further tries of a request that failed.")
    temperature: float = Field(0, ge=0, le=2, description="Sampling temperature; 0 for repeatable replies.")
    seed: int = Field(0, description="Sampling seed, for backends that accept one.")
    template: TemplatePin | None = Field(
        None,
        description="Pin the chat template (openai, ollama, llamacpp): a built-in name (chatml, llama3, mistral) or "
        "{name|file|jinja|from: runtime, bos_token, eos_token, add_bos, stop}. Guardrail then renders the prompt "
        "and sends it raw. Default: the server's own template (llamacpp: the GGUF's).",
        json_schema_extra=_name_or_pin,
    )

    price: Price | None = Field(
        None,
        description="Cost per million tokens, for `guardrail bakeoff`'s cost column. Absent: 0 for a local model, "
        "unknown for a cloud one.",
    )
    template_check: bool = Field(
        False,
        description="Run `guardrail template-check`'s quick checks (rendering, tokenization, generation and system "
        "prompt) when Guardrail first uses this model in a process, and skip the model if one fails.",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not re.fullmatch(_URL_PATTERN, url):
            raise PydanticCustomError(
                "url", "must be an http:// or https:// URL without user:password@ (put a key in api_key_env)"
            )
        return url

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, name: str | None) -> str | None:
        reason = github_token_reason(name) if name is not None else None
        if reason is not None:
            raise PydanticCustomError(
                "github_token",
                "{reason}; a model server must never receive it. Name the variable that holds this model's own key "
                "(like ANTHROPIC_API_KEY)",
                {"reason": reason},
            )
        if name is not None and not re.fullmatch(_ENV_NAME_PATTERN, name):
            raise PydanticCustomError(
                "env_name", "must be the name of an environment variable (like ANTHROPIC_API_KEY), never the key"
            )
        return name

    @field_validator("template", mode="before")
    @classmethod
    def _name_shorthand(cls, value: object) -> object:
        return {"name": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> ModelEntry:
        if self.backend in URL_BACKENDS and not self.url:
            raise PydanticCustomError(
                "url_required", "backend '{backend}' needs a 'url' (http or https)", {"backend": self.backend}
            )
        if self.backend in URL_BACKENDS and not self.model:
            raise PydanticCustomError(
                "model_required", "backend '{backend}' needs a 'model' id", {"backend": self.backend}
            )
        if self.template is not None and self.backend not in TEMPLATE_BACKENDS:
            raise PydanticCustomError(
                "template_backend",
                "backend '{backend}' takes no raw prompt, so it cannot use a pinned template",
                {"backend": self.backend},
            )
        if self.max_output_tokens >= self.context_length:
            raise PydanticCustomError(
                "output_too_long", "max_output_tokens must be less than context_length, or no prompt fits"
            )
        return self

    def spec(self, name: str) -> ModelSpec:
        return ModelSpec(
            name=name,
            backend=self.backend,
            model=self.model,
            location=self.location,
            url=self.url or "",
            api_key_env=self.api_key_env,
            context_length=self.context_length,
            max_output_tokens=self.max_output_tokens,
            timeout=self.timeout,
            retries=self.retries,
            temperature=self.temperature,
            seed=self.seed,
            template=self.template.config() if self.template is not None else None,
            template_check=self.template_check,
        )


class Allow(_Strict):
    allow: list[ModelName] = Field(description="Model names allowed for this purpose, in the admin's order.")
    post_without_fix: bool | None = Field(
        None,
        description=(
            "When the head has failing tests, post a verified suggestion even if it fixes none of them (it says so). "
            "Absent: false at the top level; in a repos entry, the top level's value."
        ),
    )


class _ByPurpose(_Strict):
    def get(self, purpose: Purpose) -> Allow | None:
        allow: Allow | None = getattr(self, purpose)
        return allow


class AdminPurposes(_ByPurpose):
    review: Allow | None = Field(None, description="Models that may write reviews. Absent: none may.")
    patch: Allow | None = Field(None, description="Models that may write patches. Absent: none may.")


class RulePurposes(_ByPurpose):
    review: Allow | None = Field(None, description="Narrows the top-level review allow-list. Absent: not narrowed.")
    patch: Allow | None = Field(None, description="Narrows the top-level patch allow-list. Absent: not narrowed.")


class RepoRule(_Strict):
    """What the admin allows for the repositories matching one glob; it can only narrow the top level."""

    local_only: bool = Field(False, description="True: no cloud model is ever asked for these repositories.")
    cloud_fallback: bool = Field(True, description="False: no cloud fallback for these repositories.")
    purposes: RulePurposes = Field(
        default_factory=RulePurposes, description="Narrower allow-lists for these repositories, per purpose."
    )


def _positive(value: object, what: str, allow_null: bool) -> object:
    """A maximum must be a positive number (a bool is not one); the message says what to write instead."""
    if value is None and allow_null:
        return value
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not value > 0 or (not allow_null and value == float("inf")):  # type: ignore[operator]
        null = ", or null for no maximum" if allow_null else ""
        context = {"what": what, "null": null, "got": repr(value)}
        raise PydanticCustomError("maximum", "must be {what} greater than 0{null}; got {got}", context)
    return value


class TimeoutCap(_Strict):
    timeout: float = Field(
        3600, gt=0, description="The most seconds a repository may set (it may set fewer); its default is capped too."
    )

    @field_validator("timeout", mode="before")
    @classmethod
    def _seconds(cls, value: object) -> object:
        return _positive(value, "a number of seconds (like 3600)", allow_null=False)


_DEFAULT_LIMITS = JailLimits()


def _limit(default: int | None, what: str) -> Any:
    return Field(default, gt=0, description=f"The largest {what} a repository may set (null: no maximum).")


class LimitCaps(_Strict):
    address_space_mb: int | None = _limit(_DEFAULT_LIMITS.address_space_mb, "virtual memory per process, MiB,")
    file_size_mb: int | None = _limit(_DEFAULT_LIMITS.file_size_mb, "file a process may write, MiB,")
    open_files: int | None = _limit(_DEFAULT_LIMITS.open_files, "number of open files per process")
    processes: int | None = _limit(_DEFAULT_LIMITS.processes, "number of processes and threads in the jail")
    cpu_seconds: int | None = _limit(_DEFAULT_LIMITS.cpu_seconds, "CPU time per process, seconds,")

    @field_validator("*", mode="before")
    @classmethod
    def _whole(cls, value: object) -> object:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, float):
            message = "must be a whole number greater than 0, or null for no maximum; got {got}"
            raise PydanticCustomError("maximum", message, {"got": repr(value)})
        return _positive(value, "a whole number", allow_null=True)


class AdminGates(_Strict):
    """The admin's maxima for every repository's gates: a repository may ask for less, never more (docs/policy.md)."""

    tests: TimeoutCap = Field(default_factory=TimeoutCap, description="Maximum of gates.tests.timeout.")
    setup: TimeoutCap = Field(default_factory=TimeoutCap, description="Maximum of gates.setup.timeout.")
    commands: TimeoutCap = Field(default_factory=TimeoutCap, description="Maximum of each gates.commands[].timeout.")
    limits: LimitCaps = Field(
        default_factory=LimitCaps,
        description="Maxima of the jail's limits (gates.limits); a repository's null (no limit) gets the maximum.",
    )

    def ceiling(self) -> GateCeiling:
        return GateCeiling(
            tests_timeout=self.tests.timeout,
            setup_timeout=self.setup.timeout,
            command_timeout=self.commands.timeout,
            limits=JailLimits(**self.limits.model_dump()),
        )


class AdminPolicy(_Strict):
    """The admin's policy file. Deny by default: a model not allowed for a repository and purpose is never called."""

    models: dict[ModelName, ModelEntry] = Field(
        description="Every model Guardrail may call, by name.", json_schema_extra=_NO_OTHER_KEYS
    )
    purposes: AdminPurposes = Field(
        default_factory=AdminPurposes, description="Which models each purpose may use, in order. Absent: none."
    )
    local_only: bool = Field(False, description="True: no repository ever reaches a cloud model.")
    cloud_fallback: bool = Field(True, description="False: no repository falls back to a cloud model.")
    repos: dict[RepoGlob, RepoRule] = Field(
        default_factory=dict,
        description="owner/name globs (case-insensitive); the most specific match narrows the top level.",
        json_schema_extra=_NO_OTHER_KEYS,
    )
    gates: AdminGates = Field(
        default_factory=AdminGates,
        description="Maxima of what a repository's gates may consume (timeouts, the jail's limits); a repository's "
        ".github/guardrail.yml may only ask for less.",
    )

    def allowed(self, purpose: Purpose) -> list[str]:
        allow = self.purposes.get(purpose)
        return list(allow.allow) if allow else []


def default_admin_policy() -> AdminPolicy:
    """The policy used when no admin policy is given: the embedded SmolLM2-135M model, local only."""
    embedded = ModelEntry(backend="llamacpp", model="", location="local", context_length=8192, max_output_tokens=512)
    allow = Allow(allow=["embedded"])
    return AdminPolicy(
        models={"embedded": embedded},
        purposes=AdminPurposes(review=allow, patch=allow),
        local_only=True,
    )


def _names_at(data: object, *keys: str) -> list[str] | None:
    """The list of names at a key path of raw YAML data; None when it is not there (or not a list of names)."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return [n for n in data if isinstance(n, str)] if isinstance(data, list) else None


def _cross_check(data: object, where: str, lines: Lines) -> list[Problem]:
    """Names that must refer to something: allow-list entries to models, repos entries to the top-level lists.

    Works on the raw data so that these problems are reported along with the structural ones, all at once."""
    if not isinstance(data, dict):
        return []  # the model's own check says what the top level should be
    models = data.get("models")
    known = [str(name) for name in models] if isinstance(models, dict) else []
    repos = data.get("repos")
    problems = _shared_key_problems(models if isinstance(models, dict) else {}, where, lines)
    for purpose in PURPOSES:
        top = _names_at(data, "purposes", purpose, "allow") or []
        problems += _list_problems(top, known, known, ("purposes", purpose, "allow"), where, lines)
        for glob in repos if isinstance(repos, dict) else {}:
            narrowing = _names_at(repos, glob, "purposes", purpose, "allow")
            loc = ("repos", str(glob), "purposes", purpose, "allow")
            problems += _list_problems(narrowing or [], known, top, loc, where, lines)
    return problems


def _shared_key_problems(models: dict[Any, Any], where: str, lines: Lines) -> list[Problem]:
    """A local model that names the key variable of a cloud model would send that cloud key to a local server."""
    entries = {str(name): entry for name, entry in models.items() if isinstance(entry, dict)}
    cloud_keys = {
        entry.get("api_key_env"): name
        for name, entry in entries.items()
        if entry.get("location") == "cloud" and entry.get("api_key_env")
    }
    problems = []
    for name, entry in entries.items():
        key = entry.get("api_key_env")
        if entry.get("location") == "local" and key in cloud_keys:
            message = (
                f"{key} is the key of the cloud model {cloud_keys[key]!r}; a local server must not receive a cloud "
                "key. Give this model its own variable, or none"
            )
            problems.append(problem_at(where, ("models", name, "api_key_env"), lines, message))
    return problems


def _list_problems(
    names: list[str], known: list[str], allowed: list[str], loc: tuple[str, ...], where: str, lines: Lines
) -> list[Problem]:
    problems = []
    for index, name in enumerate(names):
        if name in names[:index]:
            problems.append(problem_at(where, (*loc, index), lines, f"model {name!r} is listed twice"))
        elif name not in known:
            message = f"unknown model {name!r}; the models defined under 'models' are: {', '.join(known) or 'none'}"
            problems.append(problem_at(where, (*loc, index), lines, message))
        elif name not in allowed:
            purpose = loc[-2]
            message = (
                f"model {name!r} is not in the top-level purposes.{purpose}.allow; a repos entry can only narrow it"
            )
            problems.append(problem_at(where, (*loc, index), lines, message))
    return problems


# --- loading ---------------------------------------------------------------------------------------------------


def admin_policy_problems(text: str, where: str) -> tuple[AdminPolicy | None, list[Problem]]:
    """Every problem of an admin policy text (empty list: valid), and the policy when it is valid."""
    policy, _, problems = text_problems(text, AdminPolicy, where, lambda data, lines: _cross_check(data, where, lines))
    return policy, problems


def load_admin_policy_text(text: str, where: str, base_dir: Path | None = None) -> AdminPolicy:
    """Parse and validate an admin policy; a ConfigError lists every problem with file:line and key path.

    Template files are read now, relative to ``base_dir`` (the policy file's directory; None for a policy that is
    not a file, which must then give absolute paths)."""
    policy, problems = admin_policy_problems(text, where)
    raise_problems(problems)
    assert policy is not None  # no problems means a policy
    return read_template_files(policy, where, base_dir)


def read_template_files(policy: AdminPolicy, where: str, base_dir: Path | None) -> AdminPolicy:
    """``policy`` with every model's template ``file`` read into its ``jinja``."""
    models = dict(policy.models)
    for name, entry in policy.models.items():
        if entry.template is not None and entry.template.file is not None:
            key = f"models.{name}.template.file"
            try:
                pin = entry.template.read_file(base_dir, key)
            except ConfigError as exc:
                raise ConfigError(str(exc), where=where) from exc
            models[name] = entry.model_copy(update={"template": pin})
    return policy.model_copy(update={"models": models})


def _read(path: Path, where: str) -> str:
    return read_config_file(path, where, "admin policy")


def admin_policy_source(path: Path | None, env: Mapping[str, str]) -> tuple[str, str] | None:
    """(text, where) of the admin policy named by ``path`` or by $GUARDRAIL_ADMIN_POLICY; None when neither is set."""
    if path is None and env.get(ADMIN_POLICY_ENV):
        path = Path(env[ADMIN_POLICY_ENV])
        return _read(path, f"{path} (from ${ADMIN_POLICY_ENV})"), str(path)
    if path is None:
        return None
    return _read(path, str(path)), str(path)


def load_admin_policy(path: Path | None, env: Mapping[str, str]) -> AdminPolicy:
    """The admin policy from ``path``, else from the file named by $GUARDRAIL_ADMIN_POLICY, else the default."""
    source = admin_policy_source(path, env)
    if source is None:
        return default_admin_policy()
    text, where = source
    return load_admin_policy_text(text, where, Path(where).parent)


def admin_policy_from_input(value: str, workspace: Path) -> AdminPolicy:
    """The Action's ``admin-policy`` input: a path (relative to the workspace) or inline YAML; empty = default.

    A single line that names an existing file, or has no ``:`` (so it cannot be a YAML mapping), is a path;
    anything else is YAML text.
    """
    value = value.strip()
    if not value:
        return default_admin_policy()
    if "\n" not in value:
        path = Path(value) if os.path.isabs(value) else workspace / value
        if path.is_file() or ":" not in value:
            where = f"{path} (input {ACTION_INPUT})"
            if not path.is_file():
                raise ConfigError(
                    f"no such file {str(path)!r}; give a path relative to the workspace, or inline YAML",
                    where=f"input {ACTION_INPUT}",
                )
            return load_admin_policy_text(_read(path, where), where, path.parent)
    return load_admin_policy_text(value, f"input {ACTION_INPUT}")
