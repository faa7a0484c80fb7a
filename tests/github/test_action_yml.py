"""`action.yml` itself, run the way the runner runs a composite action: each step's `run` script in bash with the
environment GitHub sets, `${{ inputs.* }}`, `${{ github.* }}` and `${{ steps.*.outputs.* }}` substituted, a fresh
`$GITHUB_OUTPUT` per step, and the action's outputs read from its `outputs.*.value` expressions.

The install step is not substituted: it runs as written, with `GUARDRAIL_BIN` set in the job's environment to the
`guardrail` of this virtualenv, which is the documented way to skip the `pip install` on a runner that already has
Guardrail (a real install would fetch build dependencies from PyPI, which tests must not reach).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.demo_pr import GOOD_PATCH
from tests.fakes.github_server import FakeGitHub
from tests.fakes.model_servers import FakeOllama, Reply
from tests.github.action_world import NUMBER, REPO, World, read_outputs

ACTION_DIR = Path(__file__).resolve().parents[2]
GUARDRAIL_BIN = Path(sys.executable).parent / "guardrail"
_EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def _substitute(text: str, context: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in context:
            raise AssertionError(f"action.yml uses ${{{{ {name} }}}}, which this runner emulation does not know")
        return context[name]

    return _EXPRESSION.sub(value, text)


def run_composite(
    action: dict[str, Any], with_inputs: Mapping[str, str], github: Mapping[str, str], job_env: Mapping[str, str]
) -> tuple[dict[str, str], list[subprocess.CompletedProcess[str]]]:
    """Run the composite steps; returns the action's outputs and each step's completed process."""
    context = {f"github.{k}": v for k, v in github.items()}
    for name, spec in action["inputs"].items():
        default = _substitute(str(spec.get("default", "")), context)
        context[f"inputs.{name}"] = with_inputs.get(name, default)
    done = []
    for index, step in enumerate(action["runs"]["steps"]):
        assert step["shell"] == "bash"
        output = Path(job_env["RUNNER_TEMP"]) / f"output_{index}"
        output.touch()
        env = {**job_env, "GITHUB_OUTPUT": str(output)}
        env |= {k: _substitute(str(v), context) for k, v in (step.get("env") or {}).items()}
        script = Path(job_env["RUNNER_TEMP"]) / f"step_{index}.sh"
        script.write_text(_substitute(step["run"], context))
        # the runner's `shell: bash` is `bash --noprofile --norc -eo pipefail {0}`
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        done.append(proc)
        if proc.returncode != 0:
            break
        for key, value in read_outputs(output).items():
            context[f"steps.{step['id']}.outputs.{key}"] = value
    outputs = {
        name: _substitute(spec["value"], _empty_steps(action) | context) for name, spec in action["outputs"].items()
    }
    return outputs, done


def _empty_steps(action: dict[str, Any]) -> dict[str, str]:
    """A step output that was never set evaluates to the empty string, as in the runner."""
    names = ("verdict", "posted", "model", "bin")
    return {f"steps.{s['id']}.outputs.{n}": "" for s in action["runs"]["steps"] for n in names}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with FakeGitHub() as fake, FakeOllama() as ollama:
        yield World.build(tmp_path, fake, ollama)


def _job_env(world: World, runner_temp: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GUARDRAIL_", "INPUT_"))}
    github = world.env()
    keep = ("GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH", "GITHUB_REPOSITORY", "GITHUB_API_URL", "GITHUB_WORKSPACE")
    return (
        base
        | {k: github[k] for k in keep}
        | {
            "GITHUB_STEP_SUMMARY": str(world.summary),
            "GITHUB_ACTIONS": "true",
            "CI": "true",
            "RUNNER_TEMP": str(runner_temp),
            "GUARDRAIL_AUDIT_DB": github["GUARDRAIL_AUDIT_DB"],
            "GUARDRAIL_BIN": str(GUARDRAIL_BIN),
        }
    )


@pytest.mark.slow
def test_action_yml_steps_post_the_review_and_set_the_outputs(world: World, tmp_path: Path) -> None:
    action = yaml.safe_load((ACTION_DIR / "action.yml").read_text())
    world.ollama.default = Reply(GOOD_PATCH)
    world.pull_request_event("opened")
    runner_temp = tmp_path / "runner_temp"
    runner_temp.mkdir()
    inputs = {"purpose": "patch", "admin-policy": world.env()["GUARDRAIL_ADMIN_POLICY"], "fail-on": "error"}
    github = {"action_path": str(ACTION_DIR), "token": world.fake.token}

    outputs, steps = run_composite(action, inputs, github, _job_env(world, runner_temp))

    assert [p.returncode for p in steps] == [0, 0, 0], steps[-1].stderr
    assert "jail ready" in steps[0].stdout  # the jail is installed and probed before anything else
    assert "Using the preinstalled" in steps[1].stdout
    assert outputs == {"verdict": "accepted", "posted": "true", "model": "coder-local"}
    [review] = world.fake.reviews(REPO, NUMBER)
    assert "```suggestion\n    for i in range(1, n + 1):\n```" in review["comments"][0]["body"]
    assert len(world.fake.issue_comments(REPO, NUMBER)) == 1
    assert [c["name"] for c in world.fake.check_runs(REPO)] == ["guardrail/patch"]
    assert "Guardrail · patch" in world.summary.read_text()


def test_action_yml_without_a_token_fails_the_step_naming_the_input(world: World, tmp_path: Path) -> None:
    action = yaml.safe_load((ACTION_DIR / "action.yml").read_text())
    world.pull_request_event("opened")
    runner_temp = tmp_path / "runner_temp"
    runner_temp.mkdir()
    github = {"action_path": str(ACTION_DIR), "token": ""}

    outputs, steps = run_composite(action, {}, github, _job_env(world, runner_temp))

    assert steps[-1].returncode == 2
    assert "input github-token" in steps[-1].stderr
    assert outputs["verdict"] == "" and world.writes() == []


def test_action_yml_declares_the_documented_inputs_and_outputs() -> None:
    action = yaml.safe_load((ACTION_DIR / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert {"github-token", "purpose", "config", "admin-policy", "fail-on"} <= set(action["inputs"])
    assert set(action["outputs"]) == {"verdict", "posted", "model"}
    install = action["runs"]["steps"][1]["run"]
    assert 'pip install --quiet --disable-pip-version-check "$GUARDRAIL_ACTION_PATH"' in install
    assert "[local]" not in install
    for step in action["runs"]["steps"]:  # inputs go through env:, never pasted into a script
        assert "inputs." not in step["run"]
