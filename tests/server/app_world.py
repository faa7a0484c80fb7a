"""The App's world for end-to-end tests: the Action's world (demo repository, fake GitHub holding its PR, scripted
Ollama) plus what the App adds: an installation and its key, a git remote the workers fetch from, signed deliveries
of the recorded payloads, and `guardrail serve` / `guardrail worker` as real processes."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.github.action_world import NUMBER, REPO, World, admin_policy_yaml, payload
from tests.server.server_world import SECRET, Process, deliver, free_port, wait_until, write_app_key

APP_ID = 4242
INSTALLATION = 1  # the installation id in the recorded App payloads


@dataclass
class AppWorld:
    world: World
    queue: str
    lease_seconds: float = 30.0
    git_url: str = ""  # GUARDRAIL_GIT_URL; default: the remote's path (a local fetch)
    processes: list[Process] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)  # more GUARDRAIL_* settings for serve and worker

    def __post_init__(self) -> None:
        tmp = self.world.tmp
        self.key = write_app_key(tmp / "app.pem")
        remote = tmp / "remotes" / REPO
        remote.parent.mkdir(parents=True)
        remote.symlink_to(self.world.repo)
        self.world.fake.add_installation(INSTALLATION, REPO, app_id=APP_ID)
        self.url = ""

    @property
    def fake(self) -> Any:
        return self.world.fake

    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("GUARDRAIL_", "GITHUB_"))}
        return base | {
            "GUARDRAIL_WEBHOOK_SECRET": SECRET,
            "GUARDRAIL_APP_ID": str(APP_ID),
            "GUARDRAIL_APP_PRIVATE_KEY": str(self.key),
            "GITHUB_API_URL": self.fake.base_url,
            "GUARDRAIL_ADMIN_POLICY": admin_policy_yaml(self.world.ollama.url),
            "GUARDRAIL_QUEUE": self.queue,
            "GUARDRAIL_LEASE_SECONDS": str(self.lease_seconds),
            "GUARDRAIL_GIT_URL": self.git_url or str(self.world.tmp / "remotes" / "{repo}"),
            "GUARDRAIL_AUDIT_DB": str(self.world.tmp / "audit.sqlite3"),
            "GUARDRAIL_CACHE_DIR": str(self.world.tmp / "cache"),  # the workers' git mirrors: not the user's cache
            **self.settings,
            **extra,
        }

    def serve(self, workers: int = 1) -> Process:
        port = free_port()
        log = self.world.tmp / f"serve-{len(self.processes)}.log"
        process = Process(["serve", "--port", str(port)], self.env(GUARDRAIL_WORKERS=str(workers)), log)
        self.processes.append(process)
        self.url = f"http://127.0.0.1:{port}"
        wait_until(self._up, 30, "guardrail serve to answer")
        return process

    def worker(self, workers: int = 1) -> Process:
        log = self.world.tmp / f"worker-{len(self.processes)}.log"
        process = Process(["worker"], self.env(GUARDRAIL_WORKERS=str(workers)), log)
        self.processes.append(process)
        return process

    def _up(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code in (200, 503)
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        for process in self.processes:
            process.stop()

    # ---- deliveries --------------------------------------------------------------------------------------------

    def pull_request(self, action: str, delivery: str) -> httpx.Response:
        data = payload(f"pull_request/{action}.json")
        data["pull_request"]["base"]["sha"] = self.world.base
        data["pull_request"]["head"]["sha"] = self.world.head
        data["pull_request"]["number"] = data["number"] = NUMBER
        return deliver(self.url, "pull_request", data, delivery)

    def comment(
        self, body: str, login: str, delivery: str, comment_id: int = 77, at: str | None = None
    ) -> httpx.Response:
        """A ``/guardrail`` comment written ``at`` (ISO 8601; default: now, as GitHub stamps a new comment)."""
        data = payload("issue_comment/created.with-installation.json")
        data["issue"]["number"] = NUMBER
        data["issue"]["pull_request"] = {"url": f"{data['repository']['url']}/pulls/{NUMBER}"}
        written = at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        data["comment"] |= {"body": body, "id": comment_id, "created_at": written, "updated_at": written}
        data["comment"]["user"]["login"] = login
        return deliver(self.url, "issue_comment", data, delivery)

    # ---- what happened -----------------------------------------------------------------------------------------

    def log_lines(self) -> list[dict[str, Any]]:
        return [line for p in self.processes for line in p.lines()]

    def job_lines(self, delivery: str, message: str) -> list[dict[str, Any]]:
        return [x for x in self.log_lines() if x.get("delivery_id") == delivery and x["message"].startswith(message)]

    def wait_finished(self, delivery: str, timeout: float = 120) -> str:
        lines = wait_until(lambda: self.job_lines(delivery, "job finished"), timeout, f"job {delivery} to finish")
        return str(lines[-1]["message"]).split()[2]  # "job finished: <outcome> in 1.2 s"
