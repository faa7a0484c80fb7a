"""How Guardrail runs git itself: one place for the command line and the environment.

PR code may have written into places git reads (a hook, a config file): so Guardrail's git runs no hook
(``core.hooksPath=/dev/null``), no fsmonitor, reads no user or system config (``GIT_CONFIG_GLOBAL=/dev/null``,
``GIT_CONFIG_NOSYSTEM=1``, an empty HOME and XDG config folder), never prompts, and gets a clean environment built
here, not this process's (which holds tokens and keys).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from bot.errors import GateError
from checks import proc

CONFIG_ARGS: tuple[str, ...] = (
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.fsmonitor=false",
    "-c", "core.untrackedCache=false",
    "-c", "safe.directory=*",
)  # fmt: skip
NOWHERE = "/nonexistent"


def env() -> dict[str, str]:
    """The whole environment of a git command of Guardrail's: PATH and a C locale from here, nothing else."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "LC_ALL": "C",
        "LANG": "C",
        "HOME": NOWHERE,
        "XDG_CONFIG_HOME": NOWHERE,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_NO_REPLACE_OBJECTS": "1",
    }


def argv(args: Sequence[str]) -> list[str]:
    """``git <config overrides> args``."""
    return ["git", *CONFIG_ARGS, *args]


def run(cwd: Path, args: Sequence[str], *, timeout: float, input: str | bytes | None = None) -> proc.ProcResult:
    """Run one git command of Guardrail's in ``cwd`` (never jailed: git is ours; PR code never runs here)."""
    return proc.run(argv(args), cwd=cwd, timeout=timeout, input=input, isolate_network=False, base_env=env())


def output(cwd: Path, args: Sequence[str], *, timeout: float) -> bytes:
    """The bytes a git command of Guardrail's wrote to stdout (for diffs and file contents, kept exact); GateError
    when it fails or times out."""
    command = argv(args)
    try:
        done = subprocess.run(command, cwd=cwd, env=env(), capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise GateError(f"`git {' '.join(args)}` timed out after {timeout:g}s in {cwd}") from exc
    except OSError as exc:
        raise GateError(f"cannot run git in {cwd}: {exc.strerror}; is it installed and on PATH?") from exc
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip() or f"exit {done.returncode}"
        raise GateError(f"`git {' '.join(args)}` failed in {cwd}: {detail}")
    return done.stdout
