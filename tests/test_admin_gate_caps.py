"""The admin policy's ``gates:`` maxima: what a repository's gates may consume, and how a bad maximum is reported.

The jail enforcing the capped values is tested in ``tests/checks/test_admin_caps.py``; here, the resolution of the
repository's asks against the admin's maxima, and ``guardrail policy check`` on malformed maxima."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import load_repo_config
from bot.policy import default_admin_policy, load_admin_policy_text
from bot.types import GateSettings, JailLimits

MODELS = "models:\n  m: {backend: ollama, url: 'http://127.0.0.1:1', model: x, location: local}\n"


def effective(repo_yaml: str, admin_gates: str = "") -> GateSettings:
    admin = load_admin_policy_text(MODELS + admin_gates, "admin.yml")
    return load_repo_config(repo_yaml).gates.settings(admin.gates.ceiling())


def test_the_repository_can_lower_every_value_and_nothing_is_said() -> None:
    settings = effective(
        "gates:\n  tests: {timeout: 30}\n  setup: {timeout: 20}\n"
        "  commands: [{name: mypy, command: mypy, timeout: 10}]\n"
        "  limits: {address_space_mb: 512, file_size_mb: 8, open_files: 64, processes: 32, cpu_seconds: 60}\n"
    )
    assert (settings.tests_timeout, settings.setup_timeout, settings.commands[0].timeout) == (30, 20, 10)
    assert settings.limits == JailLimits(512, 8, 64, 32, 60)
    assert settings.capped == ()


def test_asking_for_more_than_the_admin_allows_runs_with_the_maximum_and_says_each_once() -> None:
    settings = effective(
        "gates:\n  tests: {timeout: 1e9}\n  setup: {timeout: 99999}\n"
        "  commands: [{name: ok, command: x, timeout: 5}, {name: mypy, command: mypy, timeout: 7200}]\n"
        "  limits: {address_space_mb: null, file_size_mb: 99999, processes: null}\n",
        "gates:\n  tests: {timeout: 60}\n  setup: {timeout: 30}\n  commands: {timeout: 20}\n"
        "  limits: {address_space_mb: 1024, file_size_mb: 16, processes: 64}\n",
    )
    assert (settings.tests_timeout, settings.setup_timeout) == (60, 30)
    assert [c.timeout for c in settings.commands] == [5, 20]
    assert settings.limits == JailLimits(address_space_mb=1024, file_size_mb=16, processes=64)
    assert [c.note().split(" by the admin")[0] for c in settings.capped] == [
        "gates.tests.timeout: the repository asked for 1000000000 s; capped at 60 s",
        "gates.setup.timeout: the repository asked for 99999 s; capped at 30 s",
        "gates.commands.1.timeout (mypy): the repository asked for 7200 s; capped at 20 s",
        "gates.limits.address_space_mb: the repository asked for no limit; capped at 1024 MiB",
        "gates.limits.file_size_mb: the repository asked for 99999 MiB; capped at 16 MiB",
        "gates.limits.processes: the repository asked for no limit; capped at 64",
    ]


def test_a_default_above_a_lower_maximum_is_lowered_without_a_note() -> None:
    # The repository asked for nothing: the tests' default 600 s and 1024 processes run at the admin's maxima.
    settings = effective("", "gates:\n  tests: {timeout: 120}\n  limits: {processes: 100}\n")
    assert (settings.tests_timeout, settings.limits.processes) == (120, 100)
    assert settings.capped == ()


def test_an_admin_null_is_no_maximum_so_the_repositorys_null_holds() -> None:
    settings = effective("gates:\n  limits: {processes: null}\n", "gates:\n  limits: {processes: null}\n")
    assert settings.limits.processes is None and settings.capped == ()


def test_the_default_policy_keeps_limits_on_for_a_repository_that_turns_them_off() -> None:
    ceiling = default_admin_policy().gates.ceiling()
    repo = load_repo_config(
        "gates:\n  tests: {timeout: .inf}\n"
        "  limits: {address_space_mb: null, file_size_mb: null, open_files: null, processes: null, cpu_seconds: null}\n"
    )
    settings = repo.gates.settings(ceiling)
    assert settings.limits == JailLimits()  # every default is on
    assert settings.tests_timeout == 3600
    assert settings.capped[0].note().startswith("gates.tests.timeout: the repository asked for inf s; capped at 3600 s")


@pytest.mark.parametrize(
    ("gates", "key", "says"),
    [
        ("tests: {timeout: 0}", "gates.tests.timeout", "must be a number of seconds (like 3600) greater than 0; got 0"),
        ("setup: {timeout: -5}", "gates.setup.timeout", "greater than 0; got -5"),
        (
            "commands: {timeout: '10'}",
            "gates.commands.timeout",
            "a number of seconds (like 3600) greater than 0; got '10'",
        ),
        ("tests: {timeout: .inf}", "gates.tests.timeout", "got inf"),
        ("tests: {timeout: null}", "gates.tests.timeout", "got None"),
        ("limits: {processes: 1.5}", "gates.limits.processes", "a whole number greater than 0, or null for no maximum"),
        ("limits: {open_files: 0}", "gates.limits.open_files", "a whole number greater than 0, or null for no maximum"),
        ("limits: {cpu_seconds: true}", "gates.limits.cpu_seconds", "got True"),
        ("limits: {memory_mb: 100}", "gates.limits.memory_mb", "unknown key"),
        ("tests: {command: pytest}", "gates.tests.command", "unknown key"),
    ],
)
def test_a_bad_maximum_is_one_line_naming_the_file_line_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], gates: str, key: str, says: str
) -> None:
    admin = tmp_path / "admin.yml"
    admin.write_text(MODELS + f"gates:\n  {gates}\n")
    assert main(["policy", "check", "--admin-policy", str(admin)]) == 2
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert first.startswith(f"{admin}:4: key {key!r}: "), err
    assert says in first, err
    assert "Traceback" not in err


def test_a_bad_maximum_stops_a_review_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    admin = tmp_path / "admin.yml"
    admin.write_text(MODELS + "gates:\n  limits: {processes: -1}\n")
    code = main(["review", "--repo", str(tmp_path), "--base", "HEAD", "--head", "HEAD", "--admin-policy", str(admin)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{admin}:4: key 'gates.limits.processes': must be a whole number greater than 0" in err
