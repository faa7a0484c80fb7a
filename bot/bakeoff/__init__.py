"""`guardrail bakeoff`: models compared on fixed task sets through the pull-request path (docs/bakeoff.md).

tasks, humaneval -> repo (a git repository per task) -> runner (pipeline.run, recorded by record) -> judge (with
hidden, and raw for --raw) -> results -> stats -> report.
"""
