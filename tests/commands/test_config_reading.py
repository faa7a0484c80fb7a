"""Every config Guardrail reads refuses a key given twice (file:line and key) and bounds YAML alias expansion."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.cli import main
from bot.errors import ConfigError
from bot.github.action_git import admin_policy_at_base
from tests.repos import CALC, CALC_TESTS, GitRepo

TWO_GATES = """gates:
  ruff: {enabled: true}
cloud_fallback: false
gates:
  ruff: {enabled: false}
"""

LAUGHS = "\n".join(
    ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    + [
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]"
        for i in range(8)
    ]
)  # 10**9 values once expanded, in nine lines


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    path = tmp_path / "repo"
    path.mkdir()
    git = GitRepo(path)
    git.git("init", "-q", "-b", "main")
    git.commit({"calc.py": CALC, "test_calc.py": CALC_TESTS}, "start")
    return git


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_gate_config_flag_with_a_second_gates_key_is_refused(
    repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "gates.yml"
    config.write_text(TWO_GATES)
    patch = tmp_path / "p.diff"
    patch.write_text(repo.diff_for({"calc.py": CALC + "\n\ndef mul(a, b):\n    return a * b\n"}))

    code = main(
        [
            "gate",
            "--repo",
            str(repo.path),
            "--base",
            "HEAD",
            "--head",
            "HEAD",
            "--patch",
            str(patch),
            "--config",
            str(config),
        ]
    )

    assert code == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"{config}:4" in line and "key 'gates'" in line and "given twice" in line


def test_repo_config_at_the_base_with_a_duplicate_key_is_refused_by_gate(
    repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = repo.commit({".github/guardrail.yml": TWO_GATES}, "config")
    patch = tmp_path / "p.diff"
    patch.write_text(repo.diff_for({"calc.py": CALC + "\n"}))

    code = main(["gate", "--repo", str(repo.path), "--base", base, "--head", base, "--patch", str(patch)])

    assert code == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"{base}:.github/guardrail.yml:4" in line and "key 'gates'" in line


def test_nested_duplicate_in_the_admin_policy_is_refused_by_explain(
    repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = tmp_path / "admin.yml"
    admin.write_text(
        "models:\n"
        "  m: {backend: openai, url: 'http://127.0.0.1:1/v1', model: x, location: local}\n"
        "purposes:\n  review: {allow: [m]}\n"
        "repos:\n  acme/app:\n    local_only: true\n    local_only: false\n"
    )

    code = main(["policy", "explain", "--admin-policy", str(admin), "--repo", str(repo.path), "--purpose", "review"])

    assert code == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"{admin}:8" in line and "key 'repos.acme/app.local_only'" in line and "given twice" in line


def test_inline_admin_policy_input_with_a_duplicate_key_is_refused(repo: GitRepo) -> None:
    inline = "local_only: true\nmodels: {}\nlocal_only: false\n"
    with pytest.raises(ConfigError, match=r"input admin-policy:3: key 'local_only': key given twice"):
        admin_policy_at_base(inline, repo.path, repo.git("rev-parse", "HEAD").strip())


def test_alias_bomb_is_refused_quickly_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bomb.yml"
    config.write_text(LAUGHS + "\n")
    patch = tmp_path / "p.diff"
    patch.write_text("")
    started = time.monotonic()

    code = main(
        [
            "gate",
            "--repo",
            str(tmp_path),
            "--base",
            "HEAD",
            "--head",
            "HEAD",
            "--patch",
            str(patch),
            "--config",
            str(config),
        ]
    )

    assert code == 2
    assert time.monotonic() - started < 5
    line = _one_error_line(capsys.readouterr().err)
    assert str(config) in line and "aliases" in line and "expand to more than 100,000" in line


def test_a_few_aliases_still_work(tmp_path: Path, repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "ok.yml"
    config.write_text("gates:\n  tests: &t {command: 'python -m pytest -q', timeout: 60}\n")
    assert main(["policy", "check", "--repo-config", str(config)]) == 0
    assert capsys.readouterr().out.strip() == "ok"
