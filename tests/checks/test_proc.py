"""checks.proc: timeouts, process-group kill, allowlisted environment, network isolation (all through the jail)."""

from __future__ import annotations

import json
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from checks import proc
from tests.repos import GitRepo, alive


def test_output_and_exit_status(tmp_path: Path) -> None:
    code = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    result = proc.run([sys.executable, "-c", code], cwd=tmp_path, timeout=30)
    assert (result.returncode, result.stdout, result.stderr, result.timed_out) == (3, "out\n", "err\n", False)
    assert not result.ok


def test_stdin_is_passed(tmp_path: Path) -> None:
    code = "import sys; print(sys.stdin.read().upper())"
    result = proc.run([sys.executable, "-c", code], cwd=tmp_path, timeout=30, input="hello", isolate_network=False)
    assert result.stdout == "HELLO\n"


@pytest.mark.parametrize("isolate", [True, False])
def test_timeout_kills_the_whole_group(tmp_path: Path, isolate: bool) -> None:
    marker = f"31337.{uuid.uuid4().int % 10**15}"  # unique across processes (the suite may itself run under the gates)
    code = (
        f"import subprocess, time; p = subprocess.Popen(['sleep', '{marker}']); time.sleep(0.3); "
        "print('sleeper running' if p.poll() is None else 'sleeper died', flush=True); time.sleep(600)"
    )
    start = time.monotonic()
    result = proc.run([sys.executable, "-c", code], cwd=tmp_path, timeout=1.5, isolate_network=isolate)
    assert result.timed_out
    assert result.stdout == "sleeper running\n"  # so the check below means something
    assert time.monotonic() - start < 10
    assert "timed out" in result.describe()
    time.sleep(0.2)
    assert alive(marker) == []


def test_leftover_children_are_killed_after_a_normal_exit(tmp_path: Path) -> None:
    marker = f"31338.{uuid.uuid4().int % 10**15}"
    code = (
        f"import subprocess, time; p = subprocess.Popen(['sleep', '{marker}']); time.sleep(0.3); "
        "print('sleeper running' if p.poll() is None else 'sleeper died')"
    )
    result = proc.run([sys.executable, "-c", code], cwd=tmp_path, timeout=30)
    assert result.ok and result.stdout == "sleeper running\n"
    assert result.seconds < 10  # did not wait for the sleeper's stdout to close
    time.sleep(0.2)
    assert alive(marker) == []


def test_pr_code_gets_an_allowlisted_environment_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = ("GITHUB_TOKEN", "OPENAI_API_KEY", "DATABASE_URL", "MYSQL_PWD", "DEPLOY_PAT", "SLACK_HOOK", "GITHUB_ENV")
    for name in names:
        monkeypatch.setenv(name, "s3cr3t")
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("NAMED_BY_CONFIG", "visible")
    code = "import os, json; print(json.dumps(dict(os.environ)))"
    result = proc.run([sys.executable, "-c", code], cwd=tmp_path, timeout=30, pass_env=("NAMED_BY_CONFIG",))
    assert "s3cr3t" not in result.stdout
    seen = json.loads(result.stdout)
    assert seen["NAMED_BY_CONFIG"] == "visible" and seen["LANG"] == "C.UTF-8"
    assert seen["HOME"] == "/home/guardrail" and seen["TMPDIR"] == "/tmp"


def test_our_own_tools_get_the_environment_scrubbed_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_TOKEN", "OPENAI_API_KEY", "DB_PASSWORD", "MY_SECRET", "COMPANY_X", "DEPLOY_PAT"):
        monkeypatch.setenv(name, "s3cr3t")
    monkeypatch.setenv("HARMLESS", "visible")
    code = "import os, json; print(json.dumps(dict(os.environ)))"
    result = proc.run(
        [sys.executable, "-c", code], cwd=tmp_path, timeout=30, scrub=["COMPANY_*"], isolate_network=False
    )
    assert "s3cr3t" not in result.stdout
    assert '"HARMLESS": "visible"' in result.stdout


def test_env_extra_is_added_after_scrubbing(tmp_path: Path) -> None:
    code = "import os; print(os.environ['MY_TOKEN'])"
    result = proc.run([sys.executable, "-c", code], cwd=tmp_path, timeout=30, env_extra={"MY_TOKEN": "given"})
    assert result.stdout == "given\n"


def test_missing_program_is_a_gate_error(tmp_path: Path) -> None:
    with pytest.raises(proc.GateError, match="no-such-program"):
        proc.run(["no-such-program-xyz"], cwd=tmp_path, timeout=5, isolate_network=False)


def test_network_is_isolated_but_loopback_works(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import socket
        print(sorted(name for _, name in socket.if_nameindex()))
        server = socket.create_server(("127.0.0.1", 0))
        client = socket.create_connection(server.getsockname(), timeout=5)
        conn, _ = server.accept()
        client.sendall(b"ping")
        print(conn.recv(4).decode())
        """
    )
    result = proc.run([sys.executable, "-c", code], cwd=tmp_path, timeout=30)
    assert result.network_isolated
    assert result.stdout.split() == ["['lo']", "ping"], result.stderr


def test_pr_code_gets_its_own_temporary_directory(tmp_path: Path) -> None:
    name = f"mine-{uuid.uuid4().hex}"
    Path(tempfile.gettempdir(), name).write_text("the host's")
    try:
        code = f"import os, tempfile; print(os.path.exists('/tmp/{name}')); open('/tmp/{name}', 'w').close()"
        first = proc.run([sys.executable, "-c", code], cwd=tmp_path, timeout=30)
        second = proc.run([sys.executable, "-c", code], cwd=tmp_path, timeout=30)
        assert first.stdout == second.stdout == "False\n", first.stderr  # never another run's (or the host's) files
        assert Path(tempfile.gettempdir(), name).read_text() == "the host's"
    finally:
        Path(tempfile.gettempdir(), name).unlink()
    code = "import tempfile; print(tempfile.gettempdir())"
    ours = proc.run([sys.executable, "-c", code], cwd=tmp_path, timeout=30, isolate_network=False).stdout.strip()
    assert ours == tempfile.gettempdir()


def test_a_discarded_tree_is_gone_from_its_path_at_once_and_deleted_in_the_background(tmp_path: Path) -> None:
    tree = tmp_path / "guardrail-tmp-x"
    (tree / "deep" / "er").mkdir(parents=True)
    for index in range(200):
        (tree / "deep" / "er" / f"f{index}").write_text("x")
    (tree / "deep" / "read-only").write_text("x")
    (tree / "deep" / "read-only").chmod(0o400)

    proc.discard_tree(tree)

    assert not tree.exists()  # the path is free for the next run right away
    proc._finish_discarding()  # what happens at exit
    assert list(tmp_path.iterdir()) == []  # and nothing is left behind


def test_a_git_folder_where_pr_code_runs_is_an_empty_read_only_folder(make_repo: Callable[..., GitRepo]) -> None:
    repo = make_repo()
    code = (
        "import os\nprint(os.listdir('.git'))\n"
        "try:\n    open('.git/hooks/post-checkout', 'w')\nexcept OSError as exc:\n    print(type(exc).__name__)\n"
    )
    result = proc.run([sys.executable, "-c", code], cwd=repo.path, timeout=30)
    assert result.stdout == "[]\nFileNotFoundError\n", result
    assert not (repo.path / ".git" / "hooks" / "post-checkout").exists()
    assert (repo.path / ".git" / "HEAD").exists()  # the real one is untouched
