"""Guardrail: local-model review suggestions, posted only when the repository's own gates pass."""

__version__ = "0.1.0"
