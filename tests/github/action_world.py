"""The world an Action run sees, for tests: the demo repository as the checkout, the fake GitHub holding its pull
request, a scripted Ollama named in an admin policy, the real webhook payload pointed at the repository's commits,
and the environment GitHub sets for a step.

Only what must point at the test's repository is rewritten in a payload: the base and head shas (and, for a fork,
the head repository); the rest is the real delivery from ``tests/data/github/webhooks/``.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.demo_pr import build_demo
from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_shapes import GITHUB_DATA
from tests.fakes.model_servers import FakeOllama

REPO = "Codertocat/Hello-World"  # the repository of the real payloads; the fake serves it
NUMBER = 2  # the pull request number of pull_request/*.json
WEBHOOKS = GITHUB_DATA / "webhooks"
_IDENTITY = ["-c", "user.name=Test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false"]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *_IDENTITY, *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((WEBHOOKS / name).read_text())
    return data


def read_outputs(path: Path) -> dict[str, str]:
    """``$GITHUB_OUTPUT`` parsed as the runner parses it (``name=value`` and ``name<<DELIM`` … ``DELIM``)."""
    outputs: dict[str, str] = {}
    lines = path.read_text().splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        heredoc = re.match(r"^([^=<]+)<<(.+)$", line)
        if heredoc:
            name, delimiter = heredoc.groups()
            end = lines.index(delimiter, i + 1)
            outputs[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        name, _, value = line.partition("=")
        outputs[name] = value
        i += 1
    return outputs


def admin_policy_yaml(ollama_url: str) -> str:
    return (
        "models:\n"
        f'  coder-local: {{backend: ollama, url: "{ollama_url}", model: qwen2.5-coder, location: local,\n'
        "                timeout: 30, retries: 0}\n"
        "purposes:\n"
        "  review: {allow: [coder-local]}\n"
        "  patch: {allow: [coder-local]}\n"
    )


@dataclass
class World:
    tmp: Path
    fake: FakeGitHub
    ollama: FakeOllama
    repo: Path
    base: str
    head: str
    event_path: Path = field(init=False)
    output: Path = field(init=False)
    summary: Path = field(init=False)

    def __post_init__(self) -> None:
        self.event_path = self.tmp / "event.json"
        self.output = self.tmp / "github_output"
        self.summary = self.tmp / "step_summary.md"

    @classmethod
    def build(cls, tmp: Path, fake: FakeGitHub, ollama: FakeOllama, *, head_repo: str | None = None) -> World:
        repo = build_demo(tmp / "repo")
        base, head = git(repo, "rev-parse", "main"), git(repo, "rev-parse", "pr")
        world = cls(tmp, fake, ollama, repo, base, head)
        fake.add_pull(REPO, NUMBER, base_sha=base, head_sha=head, diff_text=world.diff(), head_repo=head_repo)
        return world

    def diff(self) -> str:
        return git(self.repo, "diff", f"{self.base}...{self.head}") + "\n"

    def push(self, rel: str, text: str) -> str:
        """A new commit on the PR branch (as a push would make); the fake's PR moves to it."""
        git(self.repo, "checkout", "-q", "pr")
        (self.repo / rel).write_text(text)
        git(self.repo, "add", rel)
        git(self.repo, "commit", "-q", "-m", f"change {rel}")
        git(self.repo, "checkout", "-q", "main")
        self.head = git(self.repo, "rev-parse", "pr")
        self.fake.push(REPO, NUMBER, head_sha=self.head, diff_text=self.diff())
        return self.head

    def pull_request_event(self, action: str, *, head_repo: str | None = None) -> Path:
        data = payload(f"pull_request/{action}.json")
        data["pull_request"]["base"]["sha"] = self.base
        data["pull_request"]["head"]["sha"] = self.head
        if "after" in data:
            data["after"] = self.head
        if head_repo is not None:
            data["pull_request"]["head"]["repo"]["full_name"] = head_repo
        self.event_path.write_text(json.dumps(data))
        return self.event_path

    def comment_event(self, body: str, login: str = "Codertocat") -> Path:
        data = payload("issue_comment/created.json")
        data["issue"]["number"] = NUMBER
        data["issue"]["pull_request"] = {"url": f"{data['repository']['url']}/pulls/{NUMBER}"}
        data["comment"]["body"] = body
        data["comment"]["user"]["login"] = login
        self.event_path.write_text(json.dumps(data))
        return self.event_path

    def env(self, event_name: str = "pull_request", **inputs: str) -> dict[str, str]:
        """The step's environment: what GitHub sets, plus the inputs as action.yml passes them."""
        return {
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_EVENT_PATH": str(self.event_path),
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_API_URL": self.fake.base_url,
            "GITHUB_WORKSPACE": str(self.repo),
            "GITHUB_OUTPUT": str(self.output),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "GUARDRAIL_GITHUB_TOKEN": self.fake.token,
            "GUARDRAIL_ADMIN_POLICY": admin_policy_yaml(self.ollama.url),
            "GUARDRAIL_AUDIT_DB": str(self.tmp / "audit.sqlite3"),
            **inputs,
        }

    def writes(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.fake.requests if r.method in ("POST", "PATCH", "PUT")]
