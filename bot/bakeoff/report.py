"""report.md and report.html of a bakeoff run: the same tables in both, and in the HTML inline SVG charts.

The HTML is one self-contained file (styles and charts inline, no script, no font or image to fetch), so it can be
opened offline or attached to a CI run.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from bot.bakeoff.results import STAGES, Results
from bot.bakeoff.stats import Comparison, ModelStats, all_stats


@dataclass(frozen=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.4f}"


def _stages(stats: Sequence[ModelStats], which: str) -> list[str]:
    used = {s for m in stats for s in getattr(m, which)}
    return [s for s in STAGES if s in used] + sorted(used - set(STAGES))


def tables(results: Results, comparisons: Sequence[Comparison] | None = None) -> list[Table]:
    """Every table of the report, in order."""
    stats = all_stats(results)
    out = [
        Table(
            "Models",
            (
                "model",
                "runtime",
                "location",
                "model id",
                "version",
                "quantization",
                "template",
                "price in/out per Mtok",
            ),
            tuple(
                (
                    m.name,
                    m.runtime,
                    m.location,
                    m.model,
                    m.version,
                    m.quantization,
                    m.template,
                    "unknown" if m.price_input is None else f"${m.price_input:g} / ${m.price_output:g}",
                )
                for m in results.models
            ),
        ),
        Table(
            "Results through the pull-request path",
            (
                "model",
                "runs",
                "pass, first try",
                "pass after re-ask",
                "well-formed replies",
                "truncated replies",
                "context exhausted",
                "latency p50 (s)",
                "latency p95 (s)",
                "tokens/s",
                "tokens in",
                "tokens out",
                "cost",
            ),
            tuple(
                (
                    s.model,
                    str(s.runs),
                    pct(s.first_pass),
                    pct(s.final_pass),
                    pct(s.well_formed),
                    str(s.truncated),
                    str(s.context_exhausted),
                    num(s.latency_p50),
                    num(s.latency_p95),
                    num(s.tokens_per_second, 1),
                    str(s.prompt_tokens),
                    str(s.completion_tokens),
                    money(s.cost_usd),
                )
                for s in stats
            ),
            "A pass is a suggestion the gates accepted that also passes every hidden check (FAIL_TO_PASS and "
            "PASS_TO_PASS); for a review task, it must also comment on the seeded bug's line.",
        ),
    ]
    for which, title in (("first_failures", "first try"), ("final_failures", "after the re-ask")):
        columns = _stages(stats, which)
        out.append(
            Table(
                f"Failures by stage, {title}",
                ("model", *columns),
                tuple((s.model, *(str(getattr(s, which).get(c, 0)) for c in columns)) for s in stats),
            )
        )
    out.append(
        Table(
            "Review effort",
            (
                "model",
                "lines changed per task",
                "files changed per task",
                "comments per task",
                "review tasks",
                "comment on the bug's line",
            ),
            tuple(
                (
                    s.model,
                    num(s.lines_per_task, 1),
                    num(s.files_per_task, 2),
                    num(s.comments_per_task, 2),
                    str(s.review_tasks),
                    pct(s.review_landed),
                )
                for s in stats
            ),
        )
    )
    if results.raw:
        out.append(_loss_table(stats))
    out.append(_task_table(results))
    if comparisons is not None:
        out.append(_comparison_table(comparisons))
    return out


def _loss_table(stats: Sequence[ModelStats]) -> Table:
    return Table(
        "Harness loss (--raw)",
        (
            "model",
            "raw runs",
            "raw pass",
            "full path pass (same runs)",
            "harness loss",
            "lost at stage",
            "full path passed, raw failed",
        ),
        tuple(
            (
                s.model,
                str(s.raw_runs),
                pct(s.raw_pass),
                pct(s.full_pass_on_raw_tasks),
                "n/a" if s.harness_loss is None else f"{100 * s.harness_loss:+.1f} points",
                ", ".join(f"{k}: {v}" for k, v in s.loss_by_stage.items()) or "none",
                str(s.gain),
            )
            for s in stats
        ),
        "Raw: the same model asked the plain problem directly, its answer run against the same hidden checks. "
        "The loss is the raw pass rate minus the full path's pass rate; 'lost at stage' counts the runs that "
        "passed raw but failed through Guardrail, by the stage where they failed.",
    )


def _task_table(results: Results) -> Table:
    rows = []
    for run in results.runs:
        raw = "" if run.raw is None else ("pass" if run.raw.passed else run.raw.stage or "fail")
        rows.append(
            (
                run.task,
                run.kind,
                run.model,
                str(run.repeat),
                "pass" if run.first.passed else run.first.stage or "fail",
                "pass" if run.final.passed else run.final.stage or "fail",
                raw,
            )
        )
    return Table("Per task", ("task", "kind", "model", "repeat", "first try", "after re-ask", "raw"), tuple(rows))


def _comparison_table(comparisons: Sequence[Comparison]) -> Table:
    def show(c: Comparison, value: float) -> str:
        return pct(value) if "pass" in c.metric or "well-formed" in c.metric else num(value, 3)

    return Table(
        "Compared with the baseline",
        ("model", "metric", "baseline", "now", "pairs", "test", "verdict"),
        tuple(
            (
                c.model,
                c.metric,
                show(c, c.before),
                show(c, c.after),
                str(c.pairs),
                c.test,
                "REGRESSION" if c.regression else ("improved" if c.significant else "within noise"),
            )
            for c in comparisons
        ),
        "Flagged only where the stated test says the change exceeds run-to-run noise (p < 0.05 for pass/fail, a "
        "95% bootstrap interval excluding 0 and the minimum effect for the rest).",
    )


def _header(results: Results) -> list[str]:
    return [
        f"Tasks: `{results.tasks}` ({len(results.task_ids)} tasks), repeat {results.repeat}, "
        f"raw {'on' if results.raw else 'off'}; started {results.started}, took {results.seconds:.0f} s.",
        *results.notes,
    ]


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(results: Results, comparisons: Sequence[Comparison] | None = None) -> str:
    """report.md."""
    lines = ["# Guardrail bakeoff", "", *_header(results), ""]
    for table in tables(results, comparisons):
        lines += [f"## {table.title}", ""]
        if table.note:
            lines += [table.note, ""]
        lines.append("| " + " | ".join(table.headers) + " |")
        lines.append("| " + " | ".join("---" for _ in table.headers) + " |")
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
        lines.append("")
    return "\n".join(lines)


# --- HTML ---------------------------------------------------------------------------------------------------------

_COLORS = (
    "#2f6db3",
    "#e08a1e",
    "#4f9a3f",
    "#b23b3b",
    "#7a4fa3",
    "#8c6d31",
    "#3b8c8c",
    "#c45ea8",
    "#666666",
    "#9fb83a",
    "#d9534f",
)
_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:80em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;"
    "text-align:left;font-size:.9em}th{background:#f3f3f3}.note{color:#555;font-size:.9em}svg{margin:.5em 0 1.5em}"
)


def pass_chart(stats: Sequence[ModelStats]) -> str:
    """Grouped horizontal bars: first try, after re-ask and raw pass rates per model (inline SVG)."""
    series = [("first try", "first_pass"), ("after re-ask", "final_pass"), ("raw", "raw_pass")]
    bar, gap, label_w, width = 14, 10, 160, 420
    height = len(stats) * (3 * bar + gap) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + width + 80}" height="{height}" '
        'role="img" aria-label="pass rates per model">'
    ]
    y = 0
    for s in stats:
        parts.append(f'<text x="0" y="{y + bar * 1.8}" font-size="12">{html.escape(s.model)}</text>')
        for index, (name, field) in enumerate(series):
            value = getattr(s, field)
            w = 0 if value is None else value * width
            parts.append(
                f'<rect x="{label_w}" y="{y + index * bar}" width="{w:.1f}" height="{bar - 2}" '
                f'fill="{_COLORS[index]}"><title>{html.escape(s.model)} {name}: {pct(value)}</title></rect>'
                f'<text x="{label_w + w + 4:.1f}" y="{y + index * bar + bar - 4}" font-size="10">{pct(value)}</text>'
            )
        y += 3 * bar + gap
    for index, (name, _) in enumerate(series):
        x = label_w + index * 110
        parts.append(
            f'<rect x="{x}" y="{y + 6}" width="10" height="10" fill="{_COLORS[index]}"/>'
            f'<text x="{x + 14}" y="{y + 15}" font-size="11">{name}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def stage_chart(stats: Sequence[ModelStats]) -> str:
    """One stacked bar per model: its runs after the re-ask, passed or failed by stage (inline SVG)."""
    stages = ["pass", *_stages(stats, "final_failures")]
    bar, label_w, width = 18, 160, 420
    height = len(stats) * (bar + 8) + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + width + 20}" height="{height}" '
        'role="img" aria-label="outcomes by stage per model">'
    ]
    for row, s in enumerate(stats):
        y = row * (bar + 8)
        parts.append(f'<text x="0" y="{y + 13}" font-size="12">{html.escape(s.model)}</text>')
        x = float(label_w)
        for index, stage in enumerate(stages):
            count = round(s.final_pass * s.runs) if stage == "pass" else s.final_failures.get(stage, 0)
            w = width * count / s.runs if s.runs else 0
            if w:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" fill="{_COLORS[index % 11]}">'
                    f"<title>{html.escape(s.model)} {stage}: {count}</title></rect>"
                )
            x += w
    y = len(stats) * (bar + 8) + 4
    for index, stage in enumerate(stages):
        x = label_w + (index % 6) * 75
        yy = y + (index // 6) * 16
        parts.append(
            f'<rect x="{x}" y="{yy}" width="10" height="10" fill="{_COLORS[index % 11]}"/>'
            f'<text x="{x + 14}" y="{yy + 9}" font-size="11">{stage}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def page(results: Results, comparisons: Sequence[Comparison] | None = None) -> str:
    """report.html: self-contained (inline CSS and SVG, nothing fetched)."""
    stats = all_stats(results)
    body = ["<h1>Guardrail bakeoff</h1>", *(f"<p>{html.escape(line)}</p>" for line in _header(results))]
    body += ["<h2>Pass rates</h2>", pass_chart(stats), "<h2>Outcomes after the re-ask</h2>", stage_chart(stats)]
    for table in tables(results, comparisons):
        body.append(f"<h2>{html.escape(table.title)}</h2>")
        if table.note:
            body.append(f'<p class="note">{html.escape(table.note)}</p>')
        head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in table.rows)
        body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Guardrail bakeoff</title>'
        f"<style>{_STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
