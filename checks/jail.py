"""The jail every piece of PR code runs in: bubblewrap (``bwrap``), never a home-made mix of ``unshare`` calls.

A jailed command gets:

- new user, PID, network (loopback only, up), IPC, UTS and cgroup namespaces, a new session, and it dies with its
  parent; the PID namespace ends with its first process, so when the run ends or is killed every process in it is
  gone (a daemon that double-forked and called ``setsid`` included);
- a filesystem of only: the worktree (read-write, its ``.git`` file masked), a private empty HOME and TMPDIR (on
  disk, discarded afterwards), read-only the system directories (``/usr`` and its links, a short list of ``/etc``
  files), the directories on the jail's ``PATH`` and the Python installations and virtualenvs found there, and
  whatever Guardrail binds for that run (the bytecode cache read-only, a results folder only that run sees). No host
  home, no ``/run``, no ``/sys``, no host sockets, no checkout ``.git``, no cache it could write;
- an environment built from an allowlist (:data:`PASSED_ENV` plus what the repository config names), never copied;
- limits (``setrlimit`` via ``prlimit(1)``): address space, file size, open files, processes, CPU time; the process
  limit is a pids cgroup when Guardrail runs as root (the kernel does not apply RLIMIT_NPROC to root's processes).

:func:`probe` checks once that the jail works here. Guardrail fails closed: when it does not, PR code is not run and
the gate says how to fix it. ``GUARDRAIL_JAIL=off`` in Guardrail's own environment (an admin setting, never read
from a repository) turns the jail off; every gate summary then says so.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.types import JailLimits

JAIL_ENV = "GUARDRAIL_JAIL"  # "off" turns the jail off (admin setting)
OFF_NOTE = "JAIL OFF (GUARDRAIL_JAIL=off): PR code ran unconfined, with this machine's files, secrets and network"
HOME = "/home/guardrail"
PROBE_TIMEOUT = 20.0
# Variables PR code gets from Guardrail's environment (by exact name or prefix ending in "_"), nothing else.
PASSED_ENV = ("PATH", "LANG", "LANGUAGE", "TZ", "TERM", "NO_COLOR", "FORCE_COLOR", "SOURCE_DATE_EPOCH")
PASSED_PREFIXES = ("LC_",)
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = (
    "passwd", "group", "hosts", "nsswitch.conf", "host.conf", "localtime", "timezone", "ld.so.cache", "ld.so.conf",
    "ld.so.conf.d", "alternatives", "ssl", "ca-certificates", "ca-certificates.conf", "pki", "mime.types",
    "os-release", "lsb-release", "debian_version", "locale.alias", "locale.conf", "gai.conf", "services",
    "protocols", "terminfo", "fonts", "xdg",
)  # fmt: skip
APPARMOR_PROFILE = """abi <abi/4.0>,
include <tunables/global>

profile bwrap /usr/bin/bwrap flags=(unconfined) {
  userns,
  include if exists <local/bwrap>
}
"""
FIX_UBUNTU = (
    "on Ubuntu 23.10+ (GitHub's ubuntu-24.04 runners) AppArmor stops bwrap from creating user namespaces: allow it "
    "with the per-binary profile Ubuntu documents, i.e. write /etc/apparmor.d/bwrap containing "
    "`abi <abi/4.0>, include <tunables/global> profile bwrap /usr/bin/bwrap flags=(unconfined) { userns, }` and run "
    "`sudo apparmor_parser -r /etc/apparmor.d/bwrap` (see docs/gates.md); in a container, allow user namespaces "
    "(e.g. docker --security-opt seccomp=unconfined --security-opt apparmor=unconfined)"
)


@dataclass(frozen=True)
class JailStatus:
    """Whether PR code can be jailed here. ``message`` says what is wrong and how to fix it (or how it runs)."""

    ok: bool
    message: str


@dataclass(frozen=True)
class Mounts:
    """What one jailed run sees besides the system: ``writable`` and ``readable`` host paths (bound at the same
    path), ``masked`` files replaced by an empty read-only file (a worktree's ``.git``)."""

    writable: tuple[Path, ...] = ()
    readable: tuple[Path, ...] = ()
    masked: tuple[Path, ...] = ()


@dataclass
class Run:
    """The parts of one jailed run: the command line (bwrap ... -- prlimit ... -- argv), its environment, and the
    private folder (HOME and TMPDIR live there) the caller discards afterwards."""

    argv: list[str]
    env: dict[str, str]
    scratch: Path
    notes: list[str] = field(default_factory=list)


def disabled() -> bool:
    """True when the admin turned the jail off (``GUARDRAIL_JAIL=off`` in Guardrail's environment)."""
    return os.environ.get(JAIL_ENV, "").strip().lower() == "off"


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def _add_system(args: list[str]) -> None:
    for name in SYSTEM_DIRS:
        path = Path(name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            args += ["--ro-bind", name, name]
    for name in ETC_FILES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]


def _under_system(path: Path) -> bool:
    return any(path == Path(d) or Path(d) in path.parents for d in SYSTEM_DIRS)


def interpreter_dirs(path_value: str) -> list[Path]:
    """Host directories the jail must show read-only so the tools on ``path_value`` run: every absolute ``PATH``
    entry outside the system directories, and for each Python found there its installation prefix and virtualenv
    (``pyvenv.cfg``'s ``home``). Home directories themselves are never bound, only these folders."""
    found: list[Path] = []

    def add(candidate: Path) -> None:
        if candidate.is_dir() and not _under_system(candidate) and candidate not in found:
            if candidate != Path("/") and candidate != Path.home() and candidate.parent != Path("/home"):
                found.append(candidate)

    for entry in path_value.split(os.pathsep):
        if not entry or not os.path.isabs(entry):
            continue
        bindir = Path(entry)
        add(bindir)
        for python in ("python", "python3"):
            exe = bindir / python
            if not exe.exists():
                continue
            cfg = bindir.parent / "pyvenv.cfg"
            if cfg.is_file():
                add(bindir.parent)
                for line in cfg.read_text(encoding="utf-8", errors="replace").splitlines():
                    key, _, value = line.partition("=")
                    if key.strip() == "home" and value.strip():
                        add(Path(value.strip()).resolve().parent)
            add(exe.resolve().parent.parent)
    for prefix in {sys.prefix, sys.base_prefix}:
        add(Path(prefix).resolve())
    return found


def allowed_env(pass_env: Sequence[str] = (), source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment PR code starts from: :data:`PASSED_ENV`, ``LC_*`` and the names in ``pass_env`` (exact
    names, from the repository config's ``gates.pass_env``) copied from ``source`` (default: this process)."""
    source = os.environ if source is None else source
    names = set(PASSED_ENV) | set(pass_env)
    return {k: v for k, v in source.items() if k in names or k.startswith(PASSED_PREFIXES)}


def _limit_args(limits: JailLimits, pids_enforced: bool) -> list[str]:
    args = []
    if limits.address_space_mb is not None:
        args.append(f"--as={limits.address_space_mb * 1024 * 1024}")
    if limits.file_size_mb is not None:
        args.append(f"--fsize={limits.file_size_mb * 1024 * 1024}")
    if limits.open_files is not None:
        args.append(f"--nofile={limits.open_files}")
    if limits.processes is not None and not pids_enforced:
        args.append(f"--nproc={limits.processes}")
    if limits.cpu_seconds is not None:
        args.append(f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 5}")
    return args


class PidsCgroup:
    """A pids cgroup capping how many processes one jailed run may have; only used when running as root, where the
    kernel ignores RLIMIT_NPROC. ``path`` is None when no writable pids controller exists here."""

    def __init__(self, limit: int) -> None:
        self.path: Path | None = None
        for parent in _pids_parents():
            candidate = parent / f"guardrail-{uuid.uuid4().hex[:12]}"
            try:
                candidate.mkdir()
            except OSError:
                continue
            try:
                (candidate / "pids.max").write_text(str(limit))
            except OSError:
                candidate.rmdir()
                continue
            self.path = candidate
            return

    def enter_prefix(self) -> list[str]:
        """A prefix that moves the command into the cgroup before it executes (its children follow)."""
        if self.path is None:
            return []
        return ["/bin/sh", "-c", f'echo $$ > "{self.path}/cgroup.procs" || exit 125; exec "$@"', "sh"]

    def remove(self, wait: float = 5.0) -> None:
        """Kill anything still in the cgroup (a jail being torn down after a kill) and remove it once empty."""
        if self.path is None:
            return
        deadline = time.monotonic() + wait
        while True:
            try:
                self.path.rmdir()
                return
            except OSError:
                if time.monotonic() > deadline:
                    return
            with contextlib.suppress(OSError, ValueError):
                for pid in (self.path / "cgroup.procs").read_text().split():
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(int(pid), signal.SIGKILL)
            time.sleep(0.01)


def _pids_parents() -> list[Path]:
    parents = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(","):
            parents.append(Path("/sys/fs/cgroup/pids") / path.lstrip("/"))
    return parents


def build(
    argv: Sequence[str],
    *,
    cwd: Path,
    mounts: Mounts,
    limits: JailLimits,
    env: Mapping[str, str],
    pids: PidsCgroup | None = None,
) -> Run:
    """The bwrap command line that runs ``argv`` in ``cwd`` inside the jail, with ``env`` (already allowlisted, plus
    Guardrail's own variables) and HOME/TMPDIR pointed at a fresh private folder. Raises OSError when that folder
    cannot be made."""
    bwrap = bwrap_path() or "bwrap"
    scratch = Path(tempfile.mkdtemp(prefix="guardrail-jail-"))
    (scratch / "tmp").mkdir()
    (scratch / "home").mkdir()
    run_env = {**env, "HOME": HOME, "TMPDIR": "/tmp", "USER": "guardrail", "LOGNAME": "guardrail"}
    args = [bwrap, "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    args += ["--unshare-cgroup-try", "--new-session", "--die-with-parent", "--hostname", "guardrail-jail"]
    _add_system(args)
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm"]
    args += ["--bind", str(scratch / "tmp"), "/tmp", "--dir", "/var", "--symlink", "../tmp", "/var/tmp"]
    args += ["--bind", str(scratch / "home"), HOME]
    search = run_env.get("PATH", "")
    if os.path.isabs(argv[0]):  # a program named by its path: its installation too (a virtualenv's python, say)
        search = os.pathsep.join([os.path.dirname(argv[0]), search])
    for path in interpreter_dirs(search):
        args += ["--ro-bind", str(path), str(path)]
    for path in mounts.readable:
        args += ["--ro-bind", str(path), str(path)]
    for path in mounts.writable:
        args += ["--bind", str(path), str(path)]
    for path in mounts.masked:  # a .git file: an empty file; a .git folder: an empty read-only folder
        if path.is_dir() and not path.is_symlink():
            args += ["--tmpfs", str(path), "--remount-ro", str(path)]
        elif path.exists() or path.is_symlink():
            args += ["--ro-bind", "/dev/null", str(path)]
    args += ["--remount-ro", "/", "--chdir", str(cwd), "--"]
    notes: list[str] = []
    pids_enforced = pids is not None and pids.path is not None
    if limits.processes is not None and os.geteuid() == 0 and not pids_enforced:
        notes.append("process limit not enforced: running as root without a writable pids cgroup")
    prlimit = shutil.which("prlimit") or "/usr/bin/prlimit"
    limit_args = _limit_args(limits, pids_enforced)
    inner = [prlimit, *limit_args, "--", *argv] if limit_args else list(argv)
    outer = pids.enter_prefix() if pids is not None else []
    return Run([*outer, *args, *inner], run_env, scratch, notes)


@functools.cache
def _probe_once(bwrap: str | None) -> JailStatus:
    if bwrap is None:
        return JailStatus(
            False,
            "bubblewrap is not installed, so PR code cannot be jailed and Guardrail will not run it: install it "
            "(`sudo apt-get install -y bubblewrap`, or your distribution's `bubblewrap` package) and try again",
        )
    if shutil.which("prlimit") is None:
        return JailStatus(False, "prlimit(1) is missing (package util-linux): install it; the jail sets limits with it")
    with tempfile.TemporaryDirectory(prefix="guardrail-probe-") as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        try:
            run = build(
                ["/bin/sh", "-c", "echo ok > probe && cat probe"],
                cwd=work,
                mounts=Mounts(writable=(work,)),
                limits=JailLimits(),
                env=allowed_env(),
            )
        except OSError as exc:
            return JailStatus(False, f"cannot make the jail's private folder: {exc}; check TMPDIR")
        try:
            done = subprocess.run(run.argv, env=run.env, capture_output=True, timeout=PROBE_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return JailStatus(False, f"the jail probe ({bwrap}) could not run: {exc}")
        finally:
            shutil.rmtree(run.scratch, ignore_errors=True)
    if done.returncode != 0 or done.stdout.strip() != b"ok":
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        why = said[-1] if said else f"exit {done.returncode}"
        problem = f"bubblewrap cannot build the jail here ({why}), so PR code will not run"
        return JailStatus(False, f"{problem}; {FIX_UBUNTU}")
    return JailStatus(True, f"jail ready ({bwrap}: user, pid, net, ipc, uts and cgroup namespaces)")


def probe() -> JailStatus:
    """Check that the jail works on this machine: bubblewrap installed and able to build every namespace.

    Probed once per process when it works (a failure is probed again next time, so fixing the machine needs no
    restart). With ``GUARDRAIL_JAIL=off`` the status is ok and the message says the jail is off.
    """
    if disabled():
        return JailStatus(True, OFF_NOTE)
    status = _probe_once(bwrap_path())  # once per bwrap found: a changed PATH is probed again
    if not status.ok:
        _probe_once.cache_clear()
    return status


@contextlib.contextmanager
def pids_cgroup(limits: JailLimits) -> Iterator[PidsCgroup | None]:
    """A pids cgroup for one run when it is needed (root and a process limit set), removed afterwards."""
    if limits.processes is None or os.geteuid() != 0:
        yield None
        return
    group = PidsCgroup(limits.processes)
    try:
        yield group
    finally:
        group.remove()
