"""The ``guardrail`` command: a thin dispatcher over ``bot.commands``; one error handler maps errors to exit codes.

Exit codes: 0 success (for `gate`: accepted), 1 rejected / failed as asked, 2 usage or configuration error,
3 an unexpected internal error (with the traceback, so it can be reported).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import re
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from bot.errors import ConfigError, GuardrailError

REPORT = "please report it with the traceback above"
DESCRIPTION = (
    "Guardrail reviews and patches pull requests with a policy-selected code model, and posts a suggestion only "
    "after ruff and the repository's own tests pass on it."
)

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


# argparse's own wording, and ours: a command-line option is a "flag" everywhere in Guardrail's messages.
_ARGPARSE_WORDING = (
    (re.compile(r"^the following arguments are required: "), "missing required flags or arguments: "),
    (re.compile(r"^argument (-[-\w]+)(?:/-[-\w]+)*: "), r"flag \1: "),
    (re.compile(r"^argument (\w+): "), r"\1: "),
    (re.compile(r"^unrecognized arguments: "), "unknown flags or arguments: "),
    (re.compile(r"^one of the arguments (.*) is required$"), r"one of the flags \1 is required"),
    (re.compile(r"^ambiguous option: "), "ambiguous flag: "),
    (re.compile(r": expected one argument$"), ": needs a value"),
)


def flag_wording(message: str) -> str:
    """argparse's error message in Guardrail's words: "flag" for a command-line option, never "argument"."""
    for pattern, replacement in _ARGPARSE_WORDING:
        message = pattern.sub(replacement, message)
    return message.replace("invalid choice: ", "invalid value: ")


class _Parser(argparse.ArgumentParser):
    """Usage errors are one line on stderr and exit 2, naming the command to ask for help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {flag_wording(message)}; see `{self.prog} --help`\n")


def version() -> str:
    try:
        return importlib.metadata.version("guardrail")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="guardrail", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"guardrail {version()}")
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
    except OSError as exc:  # a file or directory named on the command line that cannot be used
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"guardrail: error: {where}{exc.strerror or exc}; check the path", file=sys.stderr)
        return 2
    except Exception:  # a bug: say so, with the traceback to report
        traceback.print_exc()
        print(
            "guardrail: internal error (a bug in Guardrail); please report it with the traceback above", file=sys.stderr
        )
        return 3
    return code


if __name__ == "__main__":
    sys.exit(main())
