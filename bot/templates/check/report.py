"""The ``template-check`` report: readable text with every difference as a diff, or JSON."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from bot.templates.check.run import ModelResult

_MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}


def text_report(results: Sequence[ModelResult]) -> str:
    """One block per model: the runtime (version, build, quantization, template hash), then each check's findings."""
    lines: list[str] = []
    for result in results:
        info = result.runtime
        lines.append(f"== {result.model}: {info.label()}")
        facts = [
            f"weights {info.weights or '?'}",
            f"quantization {info.quantization or '?'}",
            f"context {info.n_ctx}" if info.n_ctx else "",
            f"build {info.build}" if info.build and info.build != info.version else "",
            f"runtime template sha256:{info.template_sha256[:12]}" if info.template_sha256 else "",
            *info.notes,
        ]
        lines.append("   " + "; ".join(f for f in facts if f))
        if result.template:
            lines.append(f"   template {result.template} ({result.template_origin})")
        for finding in result.findings:
            lines.append(f"   {_MARK[finding.status]} {finding.check} {finding.name}: {finding.message}")
            if finding.diff:
                lines.extend("        " + line for line in finding.diff.splitlines())
    failures = sum(f.status == "fail" for r in results for f in r.findings)
    warnings = sum(f.status == "warn" for r in results for f in r.findings)
    verdict = "FAIL" if failures else "OK"
    lines.append(f"template-check: {verdict}: {failures} failure(s), {warnings} warning(s) on {len(results)} model(s)")
    return "\n".join(lines)


def json_report(results: Sequence[ModelResult]) -> dict[str, Any]:
    """``{"ok": bool, "models": [{"model", "runtime": {...}, "template", "template_origin", "findings": [...]}]}``."""
    return {
        "ok": not any(r.failed for r in results),
        "models": [
            {
                "model": r.model,
                "runtime": asdict(r.runtime),
                "template": r.template,
                "template_origin": r.template_origin,
                "failed": r.failed,
                "findings": [
                    {"check": f.check, "name": f.name, "status": f.status, "message": f.message, "diff": f.diff}
                    for f in r.findings
                ],
            }
            for r in results
        ],
    }
