"""The repository's config file (``.github/guardrail.yml``, read from the base revision) and a YAML loader that
reports errors with the file, the key path and the line.

Every key is documented in ``docs/config.md``. Unknown keys are rejected (``extra="forbid"``).

    gates:
      ruff: {enabled: true}
      tests: {command: "python -m pytest -q", timeout: 600}
      commands: [{name: mypy, command: "mypy src", timeout: 300}]
      protected_paths: {add: ["migrations/**"], remove: []}
      scrub_env: ["MY_PRIVATE_*"]
      pass_env: ["DJANGO_SETTINGS_MODULE"]
      limits: {address_space_mb: 8192, file_size_mb: 1024, open_files: 1024, processes: 1024, cpu_seconds: 1800}
      max_patch_bytes: 512000
    purposes:
      patch: {models: [coder-local, coder-cloud]}
    cloud_fallback: true
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot import yaml_text
from bot.errors import ConfigError
from bot.types import Capped, CommandGate, GateCeiling, GateSettings, JailLimits

REPO_CONFIG_PATH = ".github/guardrail.yml"

M = TypeVar("M", bound=BaseModel)
N = TypeVar("N", int, float)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuffGate(_Strict):
    enabled: bool = Field(True, description="Run the ruff gate (no new findings in the files the patch touches).")


class TestsGate(_Strict):
    command: str = Field("python -m pytest", description="The test command, run in the worktree's root.")
    timeout: float = Field(600, gt=0, description="Seconds before the test run is killed and the patch rejected.")


class SetupStep(_Strict):
    command: str = Field(
        "", description="Prepares a fresh checkout of the head before its tests run, once per head ('' = none)."
    )
    auto: bool = Field(
        True,
        description="Without a command: write generated version files and build C extensions in place (docs/gates.md).",
    )
    timeout: float = Field(600, gt=0, description="Seconds before the setup is killed.")


class CommandGateModel(_Strict):
    name: str = Field(description="Gate name shown in results, e.g. 'mypy'.")
    command: str = Field(description="Shell-free command line, split like a POSIX shell would.")
    timeout: float = Field(300, gt=0, description="Seconds before the command is killed.")


class ProtectedPaths(_Strict):
    add: list[str] = Field(default_factory=list, description="Extra globs a patch may not touch.")
    remove: list[str] = Field(default_factory=list, description="Default globs to stop protecting.")


_DEFAULT_LIMITS = JailLimits()


class Limits(_Strict):
    address_space_mb: int | None = Field(
        _DEFAULT_LIMITS.address_space_mb, gt=0, description="Virtual memory per process, MiB (null: no limit)."
    )
    file_size_mb: int | None = Field(
        _DEFAULT_LIMITS.file_size_mb, gt=0, description="Largest file a process may write, MiB (null: no limit)."
    )
    open_files: int | None = Field(_DEFAULT_LIMITS.open_files, gt=0, description="Open files per process.")
    processes: int | None = Field(_DEFAULT_LIMITS.processes, gt=0, description="Processes and threads in the jail.")
    cpu_seconds: int | None = Field(_DEFAULT_LIMITS.cpu_seconds, gt=0, description="CPU seconds per process.")


class Gates(_Strict):
    ruff: RuffGate = Field(default_factory=RuffGate)
    tests: TestsGate = Field(default_factory=TestsGate)
    setup: SetupStep = Field(default_factory=SetupStep)
    commands: list[CommandGateModel] = Field(default_factory=list, description="Further gates, by exit status.")
    protected_paths: ProtectedPaths = Field(default_factory=ProtectedPaths)
    scrub_env: list[str] = Field(
        default_factory=list, description="More environment variable names or globs hidden from PR code."
    )
    pass_env: list[str] = Field(
        default_factory=list, description="Exact names of host environment variables the PR's code may see."
    )
    limits: Limits = Field(default_factory=Limits, description="Resource limits of the jail PR code runs in.")
    max_patch_bytes: int = Field(512_000, gt=0, description="A larger patch is rejected by the apply gate.")

    def settings(self, ceiling: GateCeiling) -> GateSettings:
        """The gate settings this file asks for, each within the admin's ``ceiling``: the effective value is the
        smaller of the two, and ``null`` (no limit) cannot lift a maximum. A value the file sets above the maximum is
        recorded in ``capped`` (said once in the summary and kept in the audit log); a default above it is lowered
        without a word (the repository asked for nothing)."""
        capped: list[Capped] = []

        def timeout(key: str, section: BaseModel, asked: float, maximum: float) -> float:
            value = _lower(asked, maximum)
            if value != asked and "timeout" in section.model_fields_set:
                capped.append(Capped(key, asked, maximum, "s"))
            return asked if value is None else value

        tests_timeout = timeout("gates.tests.timeout", self.tests, self.tests.timeout, ceiling.tests_timeout)
        setup_timeout = timeout("gates.setup.timeout", self.setup, self.setup.timeout, ceiling.setup_timeout)
        commands = []
        for index, c in enumerate(self.commands):
            key = f"gates.commands.{index}.timeout ({c.name})"
            commands.append(CommandGate(c.name, c.command, timeout(key, c, c.timeout, ceiling.command_timeout)))
        given = self.limits.model_fields_set if "limits" in self.model_fields_set else set()
        limits: dict[str, int | None] = {}
        for name, asked in self.limits.model_dump().items():
            maximum: int | None = getattr(ceiling.limits, name)
            limits[name] = _lower(asked, maximum)
            if limits[name] != asked and name in given:
                capped.append(Capped(f"gates.limits.{name}", asked, maximum or 0, _LIMIT_UNITS[name]))
        return GateSettings(
            ruff=self.ruff.enabled,
            tests_command=self.tests.command,
            tests_timeout=tests_timeout,
            setup_command=self.setup.command,
            setup_auto=self.setup.auto,
            setup_timeout=setup_timeout,
            commands=tuple(commands),
            protected_add=tuple(self.protected_paths.add),
            protected_remove=tuple(self.protected_paths.remove),
            scrub_env=tuple(self.scrub_env),
            pass_env=tuple(self.pass_env),
            limits=JailLimits(**limits),
            max_patch_bytes=self.max_patch_bytes,
            capped=tuple(capped),
        )


_LIMIT_UNITS = {"address_space_mb": "MiB", "file_size_mb": "MiB", "open_files": "", "processes": "", "cpu_seconds": "s"}


def _lower(asked: N | None, maximum: N | None) -> N | None:
    """min(asked, maximum), where None is "no limit" on either side: a null cannot lift a maximum."""
    if maximum is None:
        return asked
    return maximum if asked is None or asked > maximum else asked


class RepoPurpose(_Strict):
    models: list[str] = Field(
        default_factory=list,
        description="Models to try, in order of preference, within what the admin allows. Empty = admin's order.",
    )
    enabled: bool = Field(True, description="Set false to never run this purpose on this repository.")


class RepoConfig(_Strict):
    """The repository's own file. It can only narrow the admin's policy, never widen it."""

    gates: Gates = Field(default_factory=Gates)
    purposes: dict[str, RepoPurpose] = Field(default_factory=dict, description="Keys: review, patch.")
    cloud_fallback: bool = Field(True, description="False: never fall back to a cloud model. Cannot turn it on.")


# --- loading ---------------------------------------------------------------------------------------------------


def parse_yaml(text: str, where: str) -> tuple[Any, dict[tuple[str | int, ...], int]]:
    """Parse YAML text into plain data and a map from key path to line number (``bot.yaml_text``): a syntax error,
    a key given twice or aliases that expand too far are a ConfigError naming the file, the line and the key."""
    data, lines, _ = yaml_text.parse_yaml(text, where)
    return data, lines


def line_for(loc: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]) -> int | None:
    """The line of ``loc``, or of its nearest parent key that has one."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def validate(data: Any, model: type[M], where: str, lines: dict[tuple[str | int, ...], int] | None = None) -> M:
    """Validate plain data against a model; the first error becomes a ConfigError naming file, key path and line."""
    if data is None:
        data = {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            key = ".".join(str(p) for p in loc) or "(top level)"
            line = line_for(loc, lines or {})
            place = f"{where}:{line}" if line else where
            if err["type"] == "extra_forbidden":
                fix = "unknown key; remove it or check its spelling against the documented keys"
            elif not loc and err["type"] in ("model_type", "dict_type"):
                fix = "the file must be a YAML mapping of keys (like `gates:`), not a single value or a list"
            else:
                fix = err["msg"]
            problems.append(f"{place}: key {key!r}: {fix}" if loc else f"{place}: {fix}")
        raise ConfigError("; ".join(problems)) from exc


def load_text(text: str, model: type[M], where: str) -> M:
    data, lines = parse_yaml(text, where)
    return validate(data, model, where, lines)


def load_file(path: Path, model: type[M]) -> M:
    text = yaml_text.read_config_file(path, str(path), "config file")
    return load_text(text, model, str(path))


def load_repo_config(text: str | None, where: str = REPO_CONFIG_PATH) -> RepoConfig:
    """The repository config from its text (None when the file does not exist at the base revision)."""
    if text is None:
        return RepoConfig()
    return load_text(text, RepoConfig, where)
