"""The `guardrail` command: a thin dispatcher over ``bot.commands``; one error handler maps errors to exit codes.

Exit codes: 0 success (for `gate`: accepted), 1 rejected / failed as asked, 2 usage or configuration error,
3 an unexpected internal error (with the traceback, so it can be reported).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from bot.errors import ConfigError, GuardrailError

# subcommand name -> module in bot.commands; each module has register(subparsers) and run(args) -> int
COMMANDS: dict[str, str] = {
    "gate": "bot.commands.gate",
    "review": "bot.commands.review",
    "policy": "bot.commands.policy",
    "log": "bot.commands.log",
    "action": "bot.commands.action",
    "serve": "bot.commands.serve",
    "worker": "bot.commands.worker",
}


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors already; keep that, but say which command to ask for help."""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="guardrail", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMANDS.values():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # a command not built yet must not break the others
            if exc.name != module_name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except ConfigError as exc:
        print(f"guardrail: configuration error: {exc}", file=sys.stderr)
        return 2
    except GuardrailError as exc:
        print(f"guardrail: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
