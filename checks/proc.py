"""Every subprocess the gates start goes through :func:`run`; PR code runs in the jail (:mod:`checks.jail`).

Two kinds of command:

- **PR code** (``isolate_network=True``, the default: the tests, configured commands, setup steps): run inside the
  bubblewrap jail, with an environment built from an allowlist (never copied), the worktree the only writable
  place besides a private HOME and TMPDIR, resource limits, and no network. When the jail does not work here the
  command is not run at all (GateError with the fix), unless the admin turned the jail off (``GUARDRAIL_JAIL=off``);
  then it runs unconfined and :attr:`ProcResult.jail_note` says so, for every summary to repeat.
- **Guardrail's own tools** (``isolate_network=False``: git, ruff): run directly, with ``base_env`` (git's clean
  environment, see :mod:`checks.gitenv`) or this process's environment scrubbed of secrets by name.

Either way: a timeout, after which the whole process group is killed (SIGKILL; for PR code, the jail's PID namespace
ends with it, so a daemon that called ``setsid`` goes too), and the group is killed after a normal exit as well.
Output goes to temporary files rather than pipes: a grandchild that keeps a pipe open would otherwise make the
caller wait for it, and a chatty test cannot fill memory (only the tail of each stream is kept).
"""

from __future__ import annotations

import atexit
import contextlib
import fnmatch
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypedDict

from bot.errors import GateError
from bot.types import GateSettings, JailLimits
from checks import jail

# Names of variables whose values are secrets (fnmatch patterns, matched on the upper-cased name): never passed to
# Guardrail's own tools, and redacted from every report. PR code gets none of the environment but an allowlist.
SCRUB_DEFAULT: tuple[str, ...] = (
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "*TOKEN*",
    "*_API_KEY",
    "*_APIKEY",
    "*_KEY",
    "*SECRET*",
    "*PASSWORD*",
    "*_PASSWD",
    "*CREDENTIALS*",
    "AWS_*",
    "AZURE_*",
    "ACTIONS_*",
    "GUARDRAIL_WEBHOOK_*",
    "SSH_AUTH_SOCK",
    "TWINE_*",
    "NETRC",
    "*_PAT",
    "*_PWD",
    "*PASSWD*",
    "*_DSN",
    "*DATABASE_URL*",
    "*WEBHOOK*",
    "*_AUTH",
    "*PRIVATE_KEY*",
    "GITHUB_ENV",
    "GITHUB_PATH",
    "GITHUB_OUTPUT",
    "GITHUB_STATE",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_EVENT_PATH",
)

# Never handed to PR code, whatever ``gates.pass_env`` names: the secrets above and Guardrail's own settings (the App's
# queue URL with its password, its git URL, its policy). On the App the repository config is the installing
# repository's and the environment the operator's; PR code could print what it gets into the report.
NEVER_PASSED: tuple[str, ...] = ("GUARDRAIL_*",)

MAX_OUTPUT_CHARS = 2_000_000  # tail kept of each of stdout and stderr


@dataclass(frozen=True)
class ProcResult:
    """What a command did. ``returncode`` is -9 (or the killing signal, negated) when it was killed."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool
    network_isolated: bool = False
    jail_note: str = ""  # for PR code: "" when fully jailed, else what was not (the jail off, a limit not enforced)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def describe(self) -> str:
        """One line for a gate summary: the command and how it ended."""
        cmd = " ".join(self.argv)
        if self.timed_out:
            return f"`{cmd}` timed out after {self.seconds:.1f}s and was killed"
        return f"`{cmd}` exited {self.returncode} in {self.seconds:.1f}s"


def scrubbed_env(scrub: Sequence[str] = (), base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``base`` (default: this process's environment) without the variables matching any pattern."""
    patterns = [p.upper() for p in (*SCRUB_DEFAULT, *scrub)]
    source = os.environ if base is None else base
    return {
        name: value
        for name, value in source.items()
        if not any(fnmatch.fnmatchcase(name.upper(), pattern) for pattern in patterns)
    }


def passable(pass_env: Sequence[str], scrub: Sequence[str] = ()) -> list[str]:
    """The names of ``pass_env`` PR code may get: none that matches :data:`SCRUB_DEFAULT`, ``scrub`` or
    :data:`NEVER_PASSED` (a secret by its name, or Guardrail's own setting)."""
    patterns = [p.upper() for p in (*SCRUB_DEFAULT, *NEVER_PASSED, *scrub)]
    return [name for name in pass_env if not any(fnmatch.fnmatchcase(name.upper(), p) for p in patterns)]


def secret_values(scrub: Sequence[str] = (), min_length: int = 6) -> set[str]:
    """The values of the variables :func:`scrubbed_env` removes, to redact them from anything we report."""
    kept = scrubbed_env(scrub)
    return {value for name, value in os.environ.items() if name not in kept and len(value) >= min_length}


def _chmod_dir(path: str) -> None:
    # Only a real directory, never through a symbolic link: PR code may plant a link to a file it wants opened up.
    # (Every process of the run is gone by now, so nothing can swap the directory for a link in between.)
    if stat.S_ISDIR(os.lstat(path).st_mode):
        os.chmod(path, stat.S_IRWXU)


def _force_remove(func: Callable[..., object], path: str, exc_info: object) -> None:
    # PR code may leave read-only folders behind: make the folder writable (never a link's target) and retry once.
    try:
        _chmod_dir(os.path.dirname(path) or ".")
        _chmod_dir(path)
        func(path)
    except FileNotFoundError:
        pass  # already gone


def remove_tree(path: Path) -> None:
    """``rm -rf``, also through the read-only files and folders PR code may leave behind."""
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=_force_remove)
    else:
        shutil.rmtree(path, onerror=_force_remove)


_discarding: list[threading.Thread] = []


def discard_tree(path: Path) -> None:
    """Move ``path`` aside at once and delete it in the background.

    Deleting the thousands of files a test suite leaves in its ``TMPDIR`` can take longer than the tests themselves
    (17 s seen for this project's own suite), and no verdict depends on it. The rename is atomic and frees the path
    for the next run; the process waits for the deletions to finish before it exits.
    """
    trash = path.with_name(f"{path.name}.discarded-{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}")
    try:
        path.rename(trash)
    except OSError:
        remove_tree(path)
        return
    thread = threading.Thread(target=remove_tree, args=(trash,), name="guardrail-discard", daemon=True)
    thread.start()
    _discarding[:] = [t for t in _discarding if t.is_alive()] + [thread]


@atexit.register
def _finish_discarding() -> None:
    for thread in list(_discarding):
        thread.join()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already gone


def _tail(stream: IO[bytes]) -> str:
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(max(0, size - MAX_OUTPUT_CHARS))
    return stream.read().decode("utf-8", errors="replace")


def _watch(
    proc: subprocess.Popen[bytes],
    deadline: float,
    done: threading.Event,
    expired: threading.Event,
    cancel: threading.Event | None,
) -> None:
    # The caller blocks in wait() (no polling latency on a normal exit); this thread acts on a timeout or a cancel.
    while not done.wait(min(0.1, max(0.0, deadline - time.monotonic()))):
        if cancel is not None and cancel.is_set():
            _kill_group(proc)
            return
        if time.monotonic() >= deadline:
            expired.set()
            _kill_group(proc)
            return


class JailOptions(TypedDict):
    """The jail-related keyword arguments of :func:`run` for one gate's PR code."""

    limits: JailLimits
    pass_env: tuple[str, ...]
    readable: tuple[Path, ...]
    writable: tuple[Path, ...]


def jail_options(settings: GateSettings, bytecode: Path | None, writable: Sequence[Path] = ()) -> JailOptions:
    """What a gate's PR code gets in the jail: the settings' limits and ``pass_env``, the bytecode cache read-only
    (created here if missing: only Guardrail writes it), and ``writable`` (a results folder only that run sees)."""
    readable: tuple[Path, ...] = ()
    if bytecode is not None:
        bytecode.mkdir(parents=True, exist_ok=True)
        readable = (bytecode,)
    return JailOptions(limits=settings.limits, pass_env=settings.pass_env, readable=readable, writable=tuple(writable))


def _jailed(
    argv: Sequence[str],
    cwd: Path,
    env: dict[str, str],
    writable: Sequence[Path],
    readable: Sequence[Path],
    limits: JailLimits,
    pids: jail.PidsCgroup | None,
) -> tuple[list[str], dict[str, str], Path, str]:
    """The command line, environment, private folder and note for one run of PR code."""
    if jail.disabled():
        scratch = Path(tempfile.mkdtemp(prefix="guardrail-tmp-"))
        return list(argv), {**env, "TMPDIR": str(scratch)}, scratch, jail.OFF_NOTE
    status = jail.probe()
    if not status.ok:
        raise GateError(status.message)
    mounts = jail.Mounts(
        writable=(cwd, *writable), readable=tuple(readable), masked=(cwd / ".git",) if (cwd / ".git").exists() else ()
    )
    try:
        built = jail.build(argv, cwd=cwd, mounts=mounts, limits=limits, env=env, pids=pids)
    except OSError as exc:
        raise GateError(f"cannot prepare the jail's private folder: {exc}; check TMPDIR") from exc
    return built.argv, built.env, built.scratch, "; ".join(built.notes)


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    timeout: float,
    env_extra: Mapping[str, str] | None = None,
    scrub: Sequence[str] = (),
    input: str | bytes | None = None,
    isolate_network: bool = True,
    cancel: threading.Event | None = None,
    base_env: Mapping[str, str] | None = None,
    writable: Sequence[Path] = (),
    readable: Sequence[Path] = (),
    limits: JailLimits | None = None,
    pass_env: Sequence[str] = (),
) -> ProcResult:
    """Run ``argv`` in ``cwd`` with a timeout; kill everything it started at the end.

    PR code (``isolate_network=True``, the default) runs in the jail: its environment is the allowlist
    (:func:`checks.jail.allowed_env` with the names of ``pass_env`` that :func:`passable` lets through) plus
    ``env_extra``; ``cwd`` (the worktree) and ``writable``
    are bound read-write, ``readable`` read-only; ``limits`` (default :class:`bot.types.JailLimits`) apply.
    ``isolate_network=False`` is for Guardrail's own git and ruff calls, which run no PR code: environment
    ``base_env`` (default: this process's, scrubbed of ``SCRUB_DEFAULT`` and ``scrub``) plus ``env_extra``.
    ``input`` is sent on stdin. Setting ``cancel`` (from another thread) kills the command. Raises GateError when
    the program cannot be started at all, or when PR code would have to run outside a working jail.
    """
    scratch: Path | None = None
    note = ""
    limits = limits or JailLimits()
    with contextlib.ExitStack() as stack:
        if isolate_network:
            pids = stack.enter_context(jail.pids_cgroup(limits)) if not jail.disabled() else None
            env = {**jail.allowed_env(passable(pass_env, scrub)), **(env_extra or {})}
            full, env, scratch, note = _jailed(argv, cwd, env, writable, readable, limits, pids)
        else:
            env = {**(dict(base_env) if base_env is not None else scrubbed_env(scrub)), **(env_extra or {})}
            full = list(argv)
        try:
            return _supervise(argv, full, cwd, env, timeout, input, cancel, jailed=isolate_network, note=note)
        finally:
            if scratch is not None:
                discard_tree(scratch)
    raise AssertionError("unreachable")  # pragma: no cover (ExitStack does not swallow exceptions here)


def _supervise(
    argv: Sequence[str],
    full: list[str],
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    input: str | bytes | None,
    cancel: threading.Event | None,
    *,
    jailed: bool,
    note: str,
) -> ProcResult:
    start = time.monotonic()
    done, expired = threading.Event(), threading.Event()
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryFile() as stdin,
    ):
        if input is not None:
            stdin.write(input if isinstance(input, bytes) else input.encode("utf-8", errors="surrogateescape"))
            stdin.seek(0)
        try:
            proc = subprocess.Popen(full, cwd=cwd, env=env, stdin=stdin, stdout=out, stderr=err, start_new_session=True)
        except OSError as exc:
            raise GateError(f"cannot run {argv[0]!r} in {cwd}: {exc.strerror}; is it installed and on PATH?") from exc
        watchdog = threading.Thread(target=_watch, args=(proc, start + timeout, done, expired, cancel), daemon=True)
        watchdog.start()
        try:
            returncode = proc.wait()
        finally:
            done.set()
            _kill_group(proc)  # leftovers of a normal exit, or everything on KeyboardInterrupt
            proc.wait()
            watchdog.join()
        seconds = time.monotonic() - start
        return ProcResult(
            argv=tuple(argv),
            returncode=returncode,
            stdout=_tail(out),
            stderr=_tail(err),
            seconds=seconds,
            timed_out=expired.is_set(),
            network_isolated=jailed and note != jail.OFF_NOTE,
            jail_note=note,
        )
