"""`guardrail policy explain|check|schema` on real git repositories: the config comes from the base revision."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parents[2]
ADMIN = ROOT / "examples" / "policies" / "admin.yml"


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True)
    return done.stdout.strip()


def _commit_config(repo: Path, text: str) -> str:
    (repo / ".github").mkdir(exist_ok=True)
    (repo / ".github" / "guardrail.yml").write_text(text)
    _git(repo, "add", ".github/guardrail.yml")
    _git(repo, "commit", "-q", "-m", "config")
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    _git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("demo\n")
    _git(path, "add", "README.md")
    _git(path, "commit", "-q", "-m", "start")
    return path


def _explain(repo: Path, *extra: str) -> list[str]:
    return ["policy", "explain", "--admin-policy", str(ADMIN), "--repo", str(repo), "--purpose", "patch", *extra]


def test_explain_reads_the_config_at_the_base_not_the_working_tree(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _commit_config(repo, "purposes:\n  patch: {models: [coder-local]}\n")
    _commit_config(repo, "purposes:\n  patch: {models: [coder-cloud, coder-local]}\n")
    (repo / ".github" / "guardrail.yml").write_text("cloud_fallback: false\n")  # uncommitted: never read

    assert main(_explain(repo, "--repo-name", "octo/web")) == 0
    head = capsys.readouterr().out
    assert "1. coder-local" in head and "2. coder-cloud" in head

    assert main(_explain(repo, "--repo-name", "octo/web", "--base", base)) == 0
    at_base = capsys.readouterr().out
    assert "1. coder-local" in at_base and "2. coder-cloud" not in at_base
    assert f"coder-cloud: narrowed out by the repository ({base}:.github/guardrail.yml" in at_base


def test_explain_json(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_explain(repo, "--repo-name", "acme/payments", "--json")) == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in data["candidates"]] == ["coder-local"]
    assert data["excluded"] == [
        {"model": "coder-cloud", "reason": "local-only repository (admin policy for 'acme/payments')"}
    ]
    assert data["local_only"] is True


def test_explain_refuses_a_config_asking_for_a_model_the_admin_does_not_allow(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _commit_config(repo, "purposes:\n  patch: {models: [coder-local, coder-cloud]}\n")
    assert main(_explain(repo, "--repo-name", "acme/web")) == 2
    err = capsys.readouterr().err
    assert "HEAD:.github/guardrail.yml:2: key 'purposes.patch.models.1': model 'coder-cloud' is not allowed" in err


def test_explain_names_a_missing_base(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_explain(repo, "--base", "no-such-branch")) == 2
    assert "unknown revision 'no-such-branch'" in capsys.readouterr().err


def test_check_reports_every_problem_of_both_files(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = tmp_path / "admin.yml"
    admin.write_text(ADMIN.read_text().replace("location: local}", "location: local, api_key: x}"))
    _commit_config(repo, "purposes:\n  pach: {models: []}\ncloud_fallback: maybe\n")
    code = main(["policy", "check", "--admin-policy", str(admin), "--repo", str(repo), "--base", "main"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{admin}:5: key 'models.coder-local.api_key': unknown key" in err
    assert "main:.github/guardrail.yml:3: key 'cloud_fallback': Input should be a valid boolean" in err
    assert "main:.github/guardrail.yml:2: key 'purposes.pach': unknown purpose 'pach'" in err
    assert "guardrail: 3 problem(s)" in err


def test_check_against_the_repos_entry(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _commit_config(repo, "purposes:\n  patch: {models: [coder-local, coder-cloud]}\n")
    check = ["policy", "check", "--admin-policy", str(ADMIN), "--repo", str(repo), "--base", "main"]
    assert main(check) == 0
    assert capsys.readouterr().out == "ok\n"
    assert main([*check, "--repo-name", "acme/web"]) == 2
    assert "key 'purposes.patch.models.1'" in capsys.readouterr().err


def test_check_a_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "guardrail.yml"
    config.write_text("purposes:\n  review: {models: [gpt-x]}\n")
    assert main(["policy", "check", "--admin-policy", str(ADMIN), "--repo-config", str(config)]) == 2
    assert f"{config}:2: key 'purposes.review.models.0': unknown model 'gpt-x'" in capsys.readouterr().err


def test_schema_out_writes_the_committed_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "schema", "--out", str(tmp_path)]) == 0
    for name in ("admin-policy.schema.json", "repo-config.schema.json"):
        assert (tmp_path / name).read_text() == (ROOT / "schemas" / name).read_text()
    capsys.readouterr()
    assert main(["policy", "schema", "--which", "repo"]) == 0
    assert json.loads(capsys.readouterr().out)["title"].startswith("Guardrail repository config")
