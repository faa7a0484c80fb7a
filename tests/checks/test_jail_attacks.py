"""Each way out of the jail the issue lists, written as real PR code (a pull request's own tests) in a real
repository and run through the real gate: nothing it does may reach a secret, another pull request or a later run."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from bot.cli import main
from bot.errors import GateError
from bot.types import CommandGate, GateSettings, JailLimits, Verdict
from checks import jail, proc, worktree
from checks.baseline import BaselineCache
from checks.engine import run_gates
from tests.repos import CALC, CALC_TESTS, GitRepo, alive

SETTINGS = GateSettings(tests_timeout=60)
HARMLESS = {"calc/__init__.py": CALC + "\n\nONE = 1\n"}


def attack(make_repo: Callable[..., GitRepo], test_code: str) -> GitRepo:
    """A repository whose head carries ``test_code`` as one more test module (the attacker's pull request)."""
    return make_repo({"calc/__init__.py": CALC, "tests/test_calc.py": CALC_TESTS, "tests/test_attack.py": test_code})


def gate(
    repo: GitRepo, tmp_path: Path, settings: GateSettings = SETTINGS, files: dict[str, str] | None = None
) -> Verdict:
    verdict = run_gates(repo.path, "main", "HEAD", repo.diff_for(files or HARMLESS), settings, cache_dir=tmp_path / "c")
    repo.assert_no_worktree_left()
    return verdict


def summary_of(verdict: Verdict) -> str:
    return next(g for g in verdict.gates if g.name == "tests").summary


def test_the_jail_works_here() -> None:
    # CI installs bubblewrap (scripts/setup.sh); every test below runs PR code in it and none is skipped without it.
    status = jail.probe()
    assert status.ok, status.message


def test_git_hooks_and_user_git_config_never_run(
    make_repo: Callable[..., GitRepo], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "hook-ran"
    # 1. PR code follows the worktree's .git file back to the repository and plants a hook for Guardrail's next
    # `git worktree add`; it also writes a user git config with core.hooksPath (in whatever HOME it has).
    code = f"""
import pathlib, os

def test_plant_hooks():
    hook = "#!/bin/sh\\ntouch {marker}\\n"
    root = pathlib.Path(__file__).resolve().parents[1]
    planted = []
    try:
        gitdir = pathlib.Path((root / ".git").read_text().split(":", 1)[1].strip())
        for folder in (gitdir / "hooks", gitdir.parents[1] / "hooks"):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "post-checkout").write_text(hook)
            (folder / "post-checkout").chmod(0o755)
            planted.append(str(folder))
    except (OSError, IndexError) as exc:
        planted.append(repr(exc))
    home = pathlib.Path(os.environ.get("HOME", "/nonexistent"))
    try:
        (home / "hooks").mkdir(exist_ok=True)
        (home / "hooks" / "post-checkout").write_text(hook)
        (home / "hooks" / "post-checkout").chmod(0o755)
        (home / ".gitconfig").write_text("[core]\\n\\thooksPath = " + str(home / "hooks") + "\\n")
    except OSError:
        pass
    print(planted)
"""
    repo = attack(make_repo, code)
    # And the same kind planted by anyone on the host: a hook in the repository and a user config naming hooks.
    user_home = tmp_path / "home"
    (user_home / "hooks").mkdir(parents=True)
    for folder in (repo.path / ".git" / "hooks", user_home / "hooks"):
        (folder / "post-checkout").write_text(f"#!/bin/sh\ntouch {marker}\n")
        (folder / "post-checkout").chmod(0o755)
    (user_home / ".gitconfig").write_text(f"[core]\n\thooksPath = {user_home / 'hooks'}\n")
    monkeypatch.setenv("HOME", str(user_home))
    first = gate(repo, tmp_path)
    second = gate(repo, tmp_path)  # the next run's `git worktree add` would run whatever the first planted
    assert first.accepted and second.accepted, first
    assert not marker.exists()
    assert sorted(p.name for p in (repo.path / ".git" / "hooks").iterdir() if p.name == "post-checkout") == [
        "post-checkout"
    ]  # only the one planted on the host, never run


def test_no_secret_of_guardrails_environment_reaches_pr_code(
    make_repo: Callable[..., GitRepo], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 2. A denylist misses these; the parent's /proc/<pid>/environ had them all.
    values = {
        "GITHUB_TOKEN": "ghs_tokenvalue1",
        "DATABASE_URL": "postgres://admin:dbvalue2@db/x",
        "MYSQL_PWD": "mysqlvalue3",
        "DEPLOY_PAT": "patvalue4",
        "SLACK_HOOK_URL": "https://hooks.example/hookvalue5",
        "SENTRY_DSN": "https://dsnvalue6@sentry.example/1",
        "UNREMARKABLE_SETTING": "plainvalue7",  # no name pattern: only an allowlist keeps it out
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    code = """
import os, pathlib
import calc

def test_harvest():
    if not hasattr(calc, "ONE"):
        return  # passes without the patch, fails with it: a regression, reported with its message
    found = [repr(dict(os.environ))]
    for entry in pathlib.Path("/proc").iterdir():
        for name in ("environ", "cmdline"):
            try:
                found.append((entry / name).read_bytes().decode("utf-8", "replace"))
            except OSError:
                pass
    for pid in (1, os.getppid(), os.getpid()):
        try:
            found.append(pathlib.Path(f"/proc/{pid}/root/proc/1/environ").read_text())
        except OSError:
            pass
    assert False, " ".join(found)
"""
    verdict = gate(attack(make_repo, code), tmp_path)
    report = json.dumps([[g.summary, [f.message for f in g.findings]] for g in verdict.gates])
    assert "test_harvest" in report  # the harvest ran and reported (already failing: not blamed)
    for value in values.values():
        assert value[-8:] not in report  # not even redacted: never seen


def test_runner_file_commands_and_event_payload_are_out_of_reach(
    make_repo: Callable[..., GitRepo], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 3. With $GITHUB_ENV writable, one line of BASH_ENV runs code with the token in every later step.
    runner = tmp_path / "runner"
    runner.mkdir()
    files = {name: runner / name.lower() for name in ("GITHUB_ENV", "GITHUB_PATH", "GITHUB_OUTPUT")}
    files["GITHUB_STEP_SUMMARY"] = runner / "summary.md"
    files["GITHUB_EVENT_PATH"] = runner / "event.json"
    for name, path in files.items():
        path.write_text("{}\n" if name == "GITHUB_EVENT_PATH" else "")
        monkeypatch.setenv(name, str(path))
    known = [str(p) for p in files.values()]  # an attacker who knows the runner's layout names the paths directly
    code = f"""
import os

def test_write_runner_files():
    for path in [os.environ.get(n, "") for n in {list(files)!r}] + {known!r}:
        try:
            with open(path, "a") as handle:
                handle.write("BASH_ENV=/tmp/evil\\naccepted\\n")
        except OSError:
            pass
"""
    verdict = gate(attack(make_repo, code), tmp_path)
    assert verdict.accepted, verdict
    for name, path in files.items():
        assert path.read_text() == ("{}\n" if name == "GITHUB_EVENT_PATH" else ""), name


def test_host_files_and_unix_sockets_are_out_of_reach(
    make_repo: Callable[..., GitRepo], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 4. Home, ssh keys, the checkout's .git/config with its credentials, a docker.sock-like socket.
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("SSHKEYMATERIAL")
    monkeypatch.setenv("HOME", str(home))
    sock_path = tmp_path / "docker.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock_path))
    server.listen(5)
    server.settimeout(0.2)
    accepted: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            accepted.append("connection")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    repo = make_repo({"calc/__init__.py": CALC, "tests/test_calc.py": CALC_TESTS})
    repo.git("config", "http.https://github.com/.extraheader", "AUTHORIZATION: basic CHECKOUTCREDENTIAL")
    targets = [str(home / ".ssh" / "id_ed25519"), str(repo.path / ".git" / "config"), "/root/.bash_history"]
    repo.commit(
        {
            "tests/test_attack.py": f"""
import socket
import calc

def test_reach_out():
    if not hasattr(calc, "ONE"):
        return
    found = []
    for path in {targets!r}:
        try:
            found.append(open(path).read())
        except OSError:
            pass
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect({str(sock_path)!r})
        found.append("SOCKET-CONNECTED")
    except OSError:
        pass
    assert False, repr(found)
"""
        }
    )
    try:
        verdict = gate(repo, tmp_path)
    finally:
        stop.set()
        thread.join()
        server.close()
    report = repr(verdict)
    assert "test_reach_out" in report
    for leaked in ("SSHKEYMATERIAL", "CHECKOUTCREDENTIAL", "SOCKET-CONNECTED"):
        assert leaked not in report
    assert accepted == []


def test_daemons_are_gone_after_the_run_and_after_a_timeout(make_repo: Callable[..., GitRepo], tmp_path: Path) -> None:
    # 5. Double fork + setsid: out of the process group, which used to be the only wall.
    marker = f"4242.{uuid.uuid4().int % 10**12}"
    code = f"""
import os, subprocess, time

def test_daemon():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            subprocess.Popen(["sleep", "{marker}"], start_new_session=True)
            time.sleep(600)
        os._exit(0)
    time.sleep(0.5)

def test_hangs():
    if os.environ.get("HANG") == "yes" or open(__file__).read().count("HANG-ME") > 1:
        time.sleep(600)
"""
    repo = attack(make_repo, code)
    verdict = gate(repo, tmp_path)
    assert verdict.accepted, verdict
    time.sleep(0.3)
    assert alive(marker) == []
    hang = attack(make_repo, code + "\n# HANG-ME\n")
    timed = gate(hang, tmp_path, replace(SETTINGS, tests_timeout=8))
    assert timed.reason == "tests" and "timed out" in summary_of(timed)
    time.sleep(0.3)
    assert alive(marker) == []


def test_limits_are_enforced(make_repo: Callable[..., GitRepo], tmp_path: Path) -> None:
    # 6. Memory, file size, open files, processes, CPU time: each test passes only when its limit held.
    code = """
import os, resource, subprocess, sys, pytest

def test_address_space():
    with pytest.raises(MemoryError):
        bytearray(1024 * 1024 * 1024)

def test_file_size():
    with pytest.raises(OSError):
        with open("big.bin", "wb") as handle:
            handle.write(b"x" * 8 * 1024 * 1024)

def test_open_files():
    handles = []
    with pytest.raises(OSError):
        for _ in range(200):
            handles.append(open(__file__))

def test_processes():
    children = []
    with pytest.raises(OSError):
        for _ in range(80):
            children.append(subprocess.Popen(["sleep", "30"]))
    for child in children:
        child.kill()
"""
    limits = JailLimits(address_space_mb=512, file_size_mb=4, open_files=64, processes=40, cpu_seconds=None)
    verdict = gate(attack(make_repo, code), tmp_path, replace(SETTINGS, limits=limits))
    assert verdict.accepted, verdict
    summary = summary_of(verdict)
    assert summary.startswith("6 passed") and "already failing" not in summary, summary


def test_cpu_time_is_limited(make_repo: Callable[..., GitRepo], tmp_path: Path) -> None:
    # A configured command that spins forever is stopped by the CPU limit (SIGXCPU), long before its timeout.
    spin = CommandGate("spin", "python -c 'while True: pass'", timeout=120)
    settings = replace(SETTINGS, commands=(spin,), limits=JailLimits(cpu_seconds=3))
    verdict = gate(make_repo(), tmp_path, settings)
    result = next(g for g in verdict.gates if g.name == "spin")
    assert "exited 152" in result.summary, result  # 128 + SIGXCPU, as bwrap reports a child killed by a signal
    assert result.seconds < 60


def test_a_pull_request_cannot_write_another_heads_baseline_or_bytecode(
    make_repo: Callable[..., GitRepo], tmp_path: Path
) -> None:
    # 7. Pull request A forges "test_add already failed" for head B and bytecode for B's calc module; B's bad
    # patch must still be rejected.
    cache = tmp_path / "c"
    repo = make_repo()
    head_b = repo.git("rev-parse", "HEAD").strip()
    forged = BaselineCache(cache).path(head_b, SETTINGS.tests_command)
    bytecode = Path(os.environ["GUARDRAIL_PYCACHE_DIR"])
    code = f"""
import json, os, pathlib

def test_forge():
    doc = {{"format": 1, "head": {head_b!r}, "tests_command": {SETTINGS.tests_command!r}, "returncode": 1,
           "outcomes": {{"tests.test_calc::test_add": "failed", "tests.test_calc::test_sub": "failed"}},
           "commands": {{}}, "seconds": 1}}
    for target in ({str(forged)!r},):
        try:
            pathlib.Path(target).parent.mkdir(parents=True, exist_ok=True)
            pathlib.Path(target).write_text(json.dumps(doc))
        except OSError:
            pass
    for pyc in pathlib.Path({str(bytecode)!r}).rglob("*.pyc"):
        try:
            pyc.write_bytes(pyc.read_bytes())
            pathlib.Path("/tmp/wrote-bytecode").touch()
        except OSError:
            pass
    assert not pathlib.Path("/tmp/wrote-bytecode").exists()
"""
    repo.git("checkout", "-q", "-b", "attacker")
    repo.commit({"tests/test_attack.py": code})
    attacker = gate(repo, tmp_path)
    assert attacker.accepted, attacker
    assert (
        not forged.exists() or json.loads(forged.read_text())["outcomes"].get("tests.test_calc::test_add") != "failed"
    )
    repo.git("checkout", "-q", head_b)
    broken = CALC.replace("return a + b", "return a - b")
    victim = run_gates(
        repo.path, "main", head_b, repo.diff_for({"calc/__init__.py": broken}), SETTINGS, cache_dir=cache
    )
    assert victim.reason == "tests", victim


def test_worktree_slot_links_are_a_gate_error_not_a_crash(
    make_repo: Callable[..., GitRepo], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 9. A symbolic link planted where a worktree slot will be: a clear gate error (exit 3), nothing followed.
    repo = make_repo()
    target = tmp_path / "precious"
    target.mkdir()
    target.chmod(0o700)
    with worktree._slot(repo.path) as slot:
        slot_path = slot
    slot_path.rmdir()
    slot_path.symlink_to(target)
    try:
        with pytest.raises(GateError, match="symbolic link"):
            run_gates(repo.path, "main", "HEAD", repo.diff_for(HARMLESS), SETTINGS, cache_dir=tmp_path / "c")
        patch = tmp_path / "p.diff"
        patch.write_text(repo.diff_for(HARMLESS))
        code = main(["gate", "--repo", str(repo.path), "--base", "main", "--head", "HEAD", "--patch", str(patch)])
        assert code == 3
        err = capsys.readouterr().err
        assert "gate error" in err and "symbolic link" in err and "Traceback" not in err
        assert stat.S_IMODE(target.stat().st_mode) == 0o700 and target.is_dir()
    finally:
        slot_path.unlink()


def test_cleanup_never_follows_a_link_pr_code_planted(make_repo: Callable[..., GitRepo], tmp_path: Path) -> None:
    # 9. PR code leaves a read-only folder holding a link to a host file; deleting the worktree must not chmod it.
    precious = tmp_path / "precious.txt"
    precious.write_text("x")
    precious.chmod(0o600)
    code = f"""
import os

def test_leave_trap():
    os.mkdir("trap")
    os.symlink({str(precious)!r}, "trap/link")
    os.chmod("trap", 0o500)
"""
    verdict = gate(attack(make_repo, code), tmp_path)
    assert verdict.accepted, verdict
    proc._finish_discarding()
    assert stat.S_IMODE(precious.stat().st_mode) == 0o600


def test_without_a_working_jail_no_pr_code_runs(
    make_repo: Callable[..., GitRepo],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    marker = tmp_path / "ran"
    repo = attack(make_repo, f"def test_x():\n    open({str(marker)!r}, 'w').close()\n")
    patch = tmp_path / "p.diff"
    patch.write_text(repo.diff_for(HARMLESS))
    no_bwrap = tmp_path / "bin"
    no_bwrap.mkdir()
    for tool in ("git", "prlimit", "sh"):
        (no_bwrap / tool).symlink_to(subprocess.check_output(["which", tool], text=True).strip())
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{no_bwrap}")
    code = main(["gate", "--repo", str(repo.path), "--base", "main", "--head", "HEAD", "--patch", str(patch)])
    err = capsys.readouterr().err
    assert code == 3
    assert "bubblewrap is not installed" in err and "apt-get install" in err
    assert not marker.exists()


def test_the_admin_can_turn_the_jail_off_and_every_summary_says_so(
    make_repo: Callable[..., GitRepo], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GUARDRAIL_JAIL", "off")
    assert jail.probe().ok and "JAIL OFF" in jail.probe().message
    verdict = gate(make_repo(), tmp_path)
    assert verdict.accepted
    assert "JAIL OFF" in summary_of(verdict)
    failing = gate(make_repo(), tmp_path, files={"calc/__init__.py": CALC.replace("a + b", "a - b")})
    assert "JAIL OFF" in summary_of(failing)


def test_the_junit_report_is_never_read_through_a_link(make_repo: Callable[..., GitRepo], tmp_path: Path) -> None:
    # After pytest wrote the report, PR code swaps it for a link to a host file Guardrail (outside the jail) can read.
    host_xml = tmp_path / "host.xml"
    host_xml.write_text('<testsuite><testcase classname="x" name="LEAKED_HOST_CONTENT"/></testsuite>')
    conftest = f"""
import os

def pytest_unconfigure(config):
    path = os.environ.get("GUARDRAIL_JUNIT_XML") or ""
    for arg in config.invocation_params.args:
        if arg.startswith("--junitxml="):
            path = arg.split("=", 1)[1]
    if path and os.path.exists(path):
        os.remove(path)
        os.symlink({str(host_xml)!r}, path)
"""
    repo = make_repo({"calc/__init__.py": CALC, "tests/test_calc.py": CALC_TESTS, "conftest.py": conftest})
    verdict = gate(repo, tmp_path)
    assert verdict.reason == "tests"
    assert "unreadable" in summary_of(verdict)
    assert "LEAKED_HOST_CONTENT" not in repr(verdict)
