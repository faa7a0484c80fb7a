"""One module per `guardrail` subcommand, each exposing ``register(subparsers)`` and ``run(args) -> int``."""
