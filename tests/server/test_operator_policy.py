"""The App's admin policy is the operator's: a relative GUARDRAIL_ADMIN_POLICY is made absolute when the settings are
read, so a repository that carries a file of that name at its base cannot become the admin policy of its own jobs
(the workers read the policy with the Action's rule, where a relative path names a file of the checkout)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.cli import main
from bot.errors import ConfigError
from bot.github.action_git import admin_policy_at_base
from bot.server.settings import settings_from

OPERATOR = "models:\n  m: {backend: ollama, url: 'http://127.0.0.1:1', model: x, location: local}\n"
OPERATOR += "gates:\n  tests: {timeout: 60}\n  limits: {processes: 64}\n"
REPOSITORYS = "models:\n  c: {backend: anthropic, url: 'https://api.anthropic.com', model: x, location: cloud}\n"
REPOSITORYS += "gates:\n  tests: {timeout: 99999}\n  limits: {processes: null}\n"
ID = ["-c", "user.name=T", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]
SECRET = "s" * 40


def checkout_with_its_own_policy(path: Path) -> tuple[Path, str]:
    """A repository's checkout (as a worker has it) whose base commit holds ``policy.yml``: the repository's."""
    path.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=path, check=True)
    (path / "policy.yml").write_text(REPOSITORYS)
    subprocess.run(["git", *ID, "add", "-A"], cwd=path, check=True)
    subprocess.run(["git", *ID, "commit", "-qm", "base"], cwd=path, check=True)
    base = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, check=True, capture_output=True, text=True)
    return path, base.stdout.strip()


def test_a_relative_policy_path_is_the_operators_file_not_the_repositorys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = tmp_path / "operator"
    operator.mkdir()
    (operator / "policy.yml").write_text(OPERATOR)
    monkeypatch.chdir(operator)
    env = {"GUARDRAIL_WEBHOOK_SECRET": SECRET, "GUARDRAIL_ADMIN_POLICY": "policy.yml"}

    settings = settings_from(env, {}, need_secret=True)

    assert settings.admin_policy == str(operator / "policy.yml")
    checkout, base = checkout_with_its_own_policy(tmp_path / "checkout")
    admin = admin_policy_at_base(settings.admin_policy, checkout, base)  # what the worker does for each job
    assert list(admin.models) == ["m"]
    assert admin.gates.ceiling().tests_timeout == 60 and admin.gates.ceiling().limits.processes == 64


def test_a_malformed_or_missing_policy_stops_the_start_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yml").write_text(OPERATOR.replace("timeout: 60", "timeout: 0"))
    env = {"GUARDRAIL_WEBHOOK_SECRET": SECRET}
    with pytest.raises(ConfigError, match=r"bad.yml:4: key 'gates.tests.timeout': must be a number of seconds"):
        settings_from(env | {"GUARDRAIL_ADMIN_POLICY": "bad.yml"}, {}, need_secret=True)
    with pytest.raises(ConfigError, match=r"GUARDRAIL_ADMIN_POLICY .*no such file .*nope.yml"):
        settings_from(env | {"GUARDRAIL_ADMIN_POLICY": "nope.yml"}, {}, need_secret=True)
    inline = OPERATOR.replace("processes: 64", "processes: -1")
    with pytest.raises(ConfigError, match=r"GUARDRAIL_ADMIN_POLICY .*:5: key 'gates.limits.processes'"):
        settings_from(env | {"GUARDRAIL_ADMIN_POLICY": inline}, {}, need_secret=True)

    monkeypatch.setenv("GUARDRAIL_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("GUARDRAIL_QUEUE", str(tmp_path / "queue.sqlite3"))
    monkeypatch.setenv("GUARDRAIL_ADMIN_POLICY", "bad.yml")
    assert main(["worker"]) == 2
    err = capsys.readouterr().err
    assert "bad.yml:4: key 'gates.tests.timeout'" in err and "Traceback" not in err
