"""Every subprocess the gates start goes through :func:`run`.

PR code is untrusted, so each command gets:

- a timeout, after which its whole process group is killed (SIGKILL);
- the process group killed after a normal exit too, so a test that forked a sleeper leaves nothing behind;
- an environment scrubbed of tokens, keys and secrets (by name pattern, see :data:`SCRUB_DEFAULT`);
- where the OS allows it, its own network namespace (only loopback, brought up), so it cannot reach the network.
  Whether that worked is probed once and reported in :attr:`ProcResult.network_isolated`; the gates say so in their
  summary when it did not. (No PID namespace: every run would be pid 1, and a test suite that uses its pid as a
  unique name would collide with itself when the baseline and the patched run go side by side.)

Output goes to temporary files rather than pipes: a grandchild that keeps a pipe open would otherwise make the
caller wait for it, and a chatty test cannot fill memory (only the tail of each stream is kept).
"""

from __future__ import annotations

import atexit
import fnmatch
import functools
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
from typing import IO

from bot.errors import GateError

# Environment variables PR code never sees (fnmatch patterns, matched on the upper-cased name).
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
)

MAX_OUTPUT_CHARS = 2_000_000  # tail kept of each of stdout and stderr
_SH_LO_UP = 'ip link set lo up >/dev/null 2>&1 || exit 97; exec "$@"'


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


def secret_values(scrub: Sequence[str] = (), min_length: int = 6) -> set[str]:
    """The values of the variables :func:`scrubbed_env` removes, to redact them from anything we report."""
    kept = scrubbed_env(scrub)
    return {value for name, value in os.environ.items() if name not in kept and len(value) >= min_length}


@functools.cache
def isolation_prefix() -> tuple[str, ...]:
    """The command prefix that runs a program without network (loopback up).

    Probed once per process; empty when no variant works here (then commands run with the host's network).
    """
    unshare = shutil.which("unshare")
    if unshare is None or shutil.which("ip") is None:
        return ()
    variants = ((unshare, "--net"), (unshare, "--map-root-user", "--net"))
    for variant in variants:
        prefix = (*variant, "sh", "-c", _SH_LO_UP, "sh")
        try:
            probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=10, env=scrubbed_env(), check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return prefix
    return ()


def _force_remove(func: Callable[..., object], path: str, exc_info: object) -> None:
    # PR code may leave read-only files or directories behind; make them writable and retry once.
    try:
        os.chmod(os.path.dirname(path) or ".", stat.S_IRWXU)
        os.chmod(path, stat.S_IRWXU)
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
) -> ProcResult:
    """Run ``argv`` in ``cwd`` with a scrubbed environment and a timeout; kill its whole process group at the end.

    ``env_extra`` is added after scrubbing (so the gates can set PYTHONPATH); ``scrub`` adds name patterns to
    :data:`SCRUB_DEFAULT`. ``input`` is sent on stdin. PR code (``isolate_network=True``, the default) also gets
    its own ``TMPDIR``, removed afterwards, so the baseline and the patched run do not trip over each other's
    temporary files. ``isolate_network=False`` is for our own git and ruff calls, which run no PR code.
    Setting ``cancel`` (from another thread) kills the command. Raises GateError only when the program cannot be
    started at all.
    """
    env = scrubbed_env(scrub)
    private_tmp = Path(tempfile.mkdtemp(prefix="guardrail-tmp-")) if isolate_network else None
    if private_tmp is not None:
        env["TMPDIR"] = str(private_tmp)
    env.update(env_extra or {})
    prefix = isolation_prefix() if isolate_network else ()
    full = [*prefix, *argv]
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
            if private_tmp is not None:
                discard_tree(private_tmp)
        seconds = time.monotonic() - start
        return ProcResult(
            argv=tuple(argv),
            returncode=returncode,
            stdout=_tail(out),
            stderr=_tail(err),
            seconds=seconds,
            timed_out=expired.is_set(),
            network_isolated=bool(prefix),
        )
