"""The demo end to end with the real embedded model: llama-cpp-python running SmolLM2-135M, no admin policy (so the
embedded default), `guardrail review --json` in a subprocess, the real gates.

SmolLM2-135M usually cannot fix the demo's bug. This test does not ask it to; it asks that the outcome tells the
truth whatever the model did: one attempt for `embedded` with a status and a reason, the gates listed when they
ran, `posted` exactly when the attempt was accepted, and an audit record of the run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.demo_pr import build_demo

pytest.importorskip("llama_cpp", reason="the embedded model needs the `local` extra (llama-cpp-python)")


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.parametrize("purpose", ["review", "patch"])
def test_the_demo_with_the_embedded_model_reports_honestly(tmp_path: Path, purpose: str) -> None:
    repo = build_demo(tmp_path / "repo")
    db = tmp_path / "audit.sqlite3"
    env = {k: v for k, v in os.environ.items() if k not in ("GUARDRAIL_ADMIN_POLICY", "GUARDRAIL_AUDIT_DB")}
    env["GUARDRAIL_CACHE_DIR"] = str(tmp_path / "baselines")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # the gates' `python -m pytest`
    argv = [sys.executable, "-m", "bot.cli", "review", "--repo", str(repo), "--base", "main", "--head", "pr"]
    argv += ["--purpose", purpose, "--json", "--audit-db", str(db)]

    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)

    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert set(out) >= {"posted", "winner", "attempts", "suggestions", "purpose", "repo", "head", "dropped", "notes"}
    assert out["purpose"] == purpose
    assert "cloud fallback not allowed: local-only repository" in out["notes"]
    [attempt] = out["attempts"]
    assert (attempt["model"], attempt["backend"], attempt["location"]) == ("embedded", "llamacpp", "local")
    assert attempt["status"] in ("accepted", "rejected", "error", "skipped")
    # the GGUF's own template by default, named with its full hash; the prompt hash is that of the rendered text
    assert re.fullmatch(r"gguf:SmolLM2-135M-Instruct\.Q4_1\.gguf sha256:[0-9a-f]{64}", attempt["template"])
    assert len(attempt["prompt_sha256"]) == 64
    assert out["posted"] == (attempt["status"] == "accepted")
    assert out["winner"] == ("embedded" if out["posted"] else None)
    assert bool(out["suggestions"]) == out["posted"]
    if attempt["status"] == "accepted":
        assert attempt["reason"] is None and attempt["gates"]
    else:
        assert attempt["reason"], "a losing attempt must say why"
    if attempt["status"] == "rejected" and attempt["reason"].startswith("gate "):
        gate_name = attempt["reason"].split()[1]
        assert any(g["name"] == gate_name and g["status"] in ("fail", "error") for g in attempt["gates"])
    if attempt["status"] != "skipped":
        assert attempt["tokens"] > 0 and len(attempt["reply_sha256"]) == 64
    print(f"\nembedded model, {purpose}: {attempt['status']}: {attempt['reason']} ({attempt['seconds']:.1f} s)")

    log = subprocess.run(
        [sys.executable, "-m", "bot.cli", "log", "--json", "--audit-db", str(db)],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    [run] = json.loads(log.stdout)
    assert [(a["model"], a["status"]) for a in run["attempts"]] == [("embedded", attempt["status"])]
    assert (run["local_only"], run["cloud_allowed"]) == (True, False)
