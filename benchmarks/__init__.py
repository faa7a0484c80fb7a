"""Benchmarks of Guardrail: the gate engine against running ruff and pytest by hand (see docs/benchmarks.md)."""
