"""For the newcomer: --version, plain help texts, one-line errors that say "flag", exit 2 on every bad input, and the
models' raw replies visible (review --show-replies, log --replies, log --json)."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bot.cli import dispatch, main
from tests.demo_pr import admin_policy, build_demo
from tests.fakes.model_servers import FakeAnthropic, FakeOllama, Reply

Capsys = pytest.CaptureFixture[str]
COMMANDS = [["gate"], ["review"], ["policy"], ["policy", "explain"], ["policy", "check"], ["policy", "schema"]]
COMMANDS += [["log"], ["action"], ["serve"], ["worker"], ["bakeoff"], ["template-check"], []]


def _exit(argv: list[str], capsys: Capsys) -> tuple[int, str, str]:
    """Run the CLI as a user would; argparse's own exits included."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_version(capsys: Capsys) -> None:
    code, out, _ = _exit(["--version"], capsys)
    assert (code, out) == (0, f"guardrail {importlib.metadata.version('guardrail')}\n")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "guardrail")
def test_help_texts_are_plain(command: list[str], capsys: Capsys) -> None:
    code, out, _ = _exit([*command, "--help"], capsys)
    assert code == 0
    for developer_text in ("``", "`guardrail", "Entry point", ":func:", ":class:", "bot.", "Args:"):
        assert developer_text not in out, f"{developer_text!r} in the help of {command}"
    description = out.split("\n\n")[1]
    assert description[0].isupper() and description.rstrip().endswith("."), description


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["log", "--limit", "x"],
            "guardrail log: error: flag --limit: invalid int value: 'x'; see `guardrail log --help`",
        ),
        (["log", "--limit", "0"], "guardrail: configuration error: flag --limit: must be between 1 and 1,000,000"),
        (["log", "--limit", "9" * 30], "guardrail: configuration error: flag --limit: must be between 1 and 1,000,000"),
        (["gate", "--repo"], "guardrail gate: error: flag --repo: needs a value; see `guardrail gate --help`"),
        (
            ["review", "--head", "x"],
            "guardrail review: error: missing required flags or arguments: --base; see `guardrail review --help`",
        ),
        (["log", "--colour"], "guardrail log: error: unknown flags or arguments: --colour; see `guardrail log --help`"),
        (
            ["gate", "--colour", "--repo", "."],
            "guardrail gate: error: unknown flags or arguments: --colour (also missing required flags or arguments: "
            "--base, --head, --patch); see `guardrail gate --help`",
        ),
        (
            ["--colour"],
            "guardrail: error: unknown flags or arguments: --colour (also missing required flags or arguments: "
            "COMMAND); see `guardrail --help`",
        ),
        (
            ["log", "--lim", "x"],
            "guardrail log: error: flag --limit: invalid int value: 'x'; see `guardrail log --help`",
        ),
        (
            ["policy", "explain", "--purpose", "fix"],
            "guardrail policy explain: error: flag --purpose: invalid value: 'fix' (choose from 'review', 'patch'); "
            "see `guardrail policy explain --help`",
        ),
    ],
)
def test_usage_errors_are_one_line_saying_flag(argv: list[str], expected: str, capsys: Capsys) -> None:
    code, _, err = _exit(argv, capsys)
    assert code == 2
    assert _one_line(err) == expected


def test_schema_out_onto_an_existing_file(tmp_path: Path, capsys: Capsys) -> None:
    target = tmp_path / "schemas"
    target.write_text("mine\n")
    code, _, err = _exit(["policy", "schema", "--out", str(target)], capsys)
    assert code == 2
    assert _one_line(err) == (
        f"guardrail: configuration error: flag --out: {target} is a file; give a directory to write the schema "
        "files into"
    )
    assert target.read_text() == "mine\n"


def test_log_on_a_file_that_is_not_a_database(tmp_path: Path, capsys: Capsys) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("groceries: milk, eggs, bread, and a long enough line to fill a page header\n" * 20)
    code, _, err = _exit(["log", "--audit-db", str(notes)], capsys)
    assert code == 2
    assert _one_line(err).startswith(f"guardrail: configuration error: {notes}: not a Guardrail audit log (")


def test_log_never_writes_into_someone_elses_database(tmp_path: Path, capsys: Capsys) -> None:
    other = tmp_path / "app.sqlite3"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
    code, _, err = _exit(["log", "--audit-db", str(other)], capsys)
    assert code == 2
    assert "not a Guardrail audit log (an SQLite database with other tables: users)" in _one_line(err)
    with sqlite3.connect(other) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert tables == ["users"]


def test_a_config_that_is_not_utf8(tmp_path: Path, capsys: Capsys) -> None:
    config = tmp_path / "guardrail.yml"
    config.write_bytes(b"gates:\n  ruff: {enabled: \xff}\n")
    code, _, err = _exit(["policy", "check", "--repo-config", str(config)], capsys)
    assert code == 2
    assert _one_line(err) == (
        f"guardrail: configuration error: {config}: not UTF-8 text (invalid start byte at byte 25); save it as UTF-8"
    )


def test_a_policy_that_is_a_list_says_what_the_file_must_be(tmp_path: Path, capsys: Capsys) -> None:
    admin = tmp_path / "admin.yml"
    admin.write_text("- models\n- purposes\n")
    code, _, err = _exit(["policy", "check", "--admin-policy", str(admin)], capsys)
    assert code == 2
    assert f"{admin}:1: the file must be a YAML mapping of keys (like `models:`), not a single value or a list" in err


def test_an_audit_log_of_the_first_version_is_upgraded(tmp_path: Path, capsys: Capsys) -> None:
    db = tmp_path / "audit.sqlite3"
    with sqlite3.connect(db) as conn:  # the version-1 schema: no replies column
        conn.executescript(
            "CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);"
            "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL);"
            "CREATE TABLE attempts (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER NOT NULL, seq INTEGER);"
        )
    code, out, _ = _exit(["log", "--audit-db", str(db)], capsys)
    assert (code, out) == (0, "(no runs recorded)\n")
    with sqlite3.connect(db) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(attempts)")]
    assert "replies" in columns


REPLY = "I looked at calc.py.\nNo change is needed: MARKER-7f3a.\n"


def test_the_models_raw_reply_can_be_seen(tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDRAIL_CACHE_DIR", str(tmp_path / "baselines"))
    monkeypatch.delenv("GUARDRAIL_ADMIN_POLICY", raising=False)
    repo = build_demo(tmp_path / "repo")
    db = tmp_path / "audit.sqlite3"
    with FakeOllama(default=Reply(REPLY)) as local, FakeAnthropic() as cloud:
        policy = admin_policy(tmp_path / "admin.yml", local.url, cloud.url, extra="local_only: true\n")
        argv = ["review", "--repo", str(repo), "--base", "main", "--head", "pr", "--admin-policy", str(policy)]
        argv += ["--audit-db", str(db), "--quiet", "--repo-name", "acme/app"]

        code, out, _ = _exit([*argv, "--show-replies"], capsys)
        assert code == 0
        shown = out.split("The models' raw replies:\n", 1)[1]
        assert shown.startswith("----- coder-local: reply")
        assert "No change is needed: MARKER-7f3a." in shown

        code, out, _ = _exit([*argv, "--json", "--show-replies"], capsys)
        assert code == 0
        [attempt] = json.loads(out)["attempts"]
        assert attempt["replies"][0] == REPLY

    code, out, _ = _exit(["log", "--audit-db", str(db), "--replies", "--limit", "1"], capsys)
    assert code == 0 and "     No change is needed: MARKER-7f3a." in out
    code, out, _ = _exit(["log", "--audit-db", str(db), "--json"], capsys)
    assert all(run["attempts"][0]["replies"][0] == REPLY for run in json.loads(out))


def _a_bug(args: argparse.Namespace) -> int:
    """A command with a bug in it, as `args.run` (what every registered command is)."""
    return {}["missing"]  # type: ignore[no-any-return]


def test_an_internal_error_is_one_line_naming_the_file_with_the_traceback(
    tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GUARDRAIL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GUARDRAIL_DEBUG", raising=False)
    code = dispatch(argparse.Namespace(run=_a_bug))
    out, err = capsys.readouterr()
    line = _one_line(err)
    assert code == 3 and out == ""
    assert line.startswith(
        "guardrail: internal error (a bug in Guardrail): KeyError: 'missing'; the full traceback is in "
    )
    written = Path(line.split("the full traceback is in ")[1].split("; ")[0])
    assert written.parent == tmp_path / "cache" / "crashes"
    report = written.read_text()
    assert "Traceback (most recent call last)" in report and ", in _a_bug\n" in report
    assert report.startswith("guardrail ")


def test_an_internal_error_falls_back_to_the_temporary_directory(
    tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "not-a-dir").write_text("a file where the cache directory should be")
    monkeypatch.setenv("GUARDRAIL_CACHE_DIR", str(tmp_path / "not-a-dir"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", None)  # the stdlib caches $TMPDIR; read it again
    code = dispatch(argparse.Namespace(run=_a_bug))
    line = _one_line(capsys.readouterr().err)
    assert code == 3
    written = Path(line.split("the full traceback is in ")[1].split("; ")[0])
    assert written.parent == tmp_path / "tmp" and "KeyError" in written.read_text()


def test_guardrail_debug_shows_the_traceback(tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDRAIL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GUARDRAIL_DEBUG", "1")
    assert dispatch(argparse.Namespace(run=_a_bug)) == 3
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1].startswith("guardrail: internal error (a bug in Guardrail): KeyError")


@pytest.mark.parametrize(
    ("argv", "what"),
    [
        (["policy", "explain", "--purpose", "review", "--repo-config", "{file}"], "repository config"),
        (["policy", "check", "--admin-policy", "{file}"], "admin policy"),
        (
            ["gate", "--repo", ".", "--base", "HEAD", "--head", "HEAD", "--patch", "/dev/null", "--config", "{file}"],
            "config file",
        ),
    ],
)
@pytest.mark.parametrize("source", ["/dev/zero", "huge"])
def test_an_endless_or_huge_config_file_is_one_line_not_a_hang(
    argv: list[str], what: str, source: str, tmp_path: Path, capsys: Capsys
) -> None:
    """A path such as /dev/zero (or a log file named by mistake) is refused after a bounded read."""
    path = Path(source) if source.startswith("/") else tmp_path / "huge.yml"
    if not source.startswith("/"):
        path.write_text("# padding\n" * 200_000)  # 2 MB of valid YAML
    code, _, err = _exit([a.replace("{file}", str(path)) for a in argv], capsys)
    assert code == 2
    assert _one_line(err).endswith(
        f"{path}: larger than 1,000,000 bytes, far more than any {what}; check that the path names the right file"
    )


def test_a_repository_without_commits_and_a_shallow_clone_say_so(tmp_path: Path, capsys: Capsys) -> None:
    empty, full, shallow = tmp_path / "empty", tmp_path / "full", tmp_path / "shallow"
    ident = ["-c", "user.name=T", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "init", "-q", str(empty)], check=True)
    subprocess.run(["git", "init", "-q", str(full)], check=True)
    for message in ("one", "two"):
        subprocess.run(["git", "-C", str(full), *ident, "commit", "-q", "--allow-empty", "-m", message], check=True)
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{full}", str(shallow)], check=True)

    code, _, err = _exit(["policy", "explain", "--purpose", "review", "--repo", str(empty)], capsys)
    assert code == 2 and _one_line(err).endswith(
        "unknown revision 'HEAD': the repository has no commits yet; commit "
        "first, or pass the path of a clone that has them"
    )
    code, _, err = _exit(
        ["policy", "explain", "--purpose", "review", "--repo", str(shallow), "--base", "HEAD~1"], capsys
    )
    assert code == 2 and "unknown revision 'HEAD~1': not in this shallow clone; fetch the history" in _one_line(err)


def test_a_command_whose_extra_is_not_installed_says_which_extra(tmp_path: Path) -> None:
    # `guardrail serve` on an install without the `app` extra (the Action's, or the demo's `local` only) was an
    # "internal error (a bug in Guardrail): ModuleNotFoundError". Here huey cannot be imported, as when it is absent.
    script = (
        "import sys; sys.modules['huey'] = None\n"
        "from bot.cli import main\n"
        "sys.exit(main(['serve', '--workers', '0', '--port', '18999']))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GUARDRAIL_WEBHOOK_SECRET": "s" * 40}
    env |= {"XDG_STATE_HOME": str(tmp_path / "state"), "GUARDRAIL_CACHE_DIR": str(tmp_path / "cache")}
    root = Path(__file__).parents[2]
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert _one_line(done.stderr) == (
        "guardrail: setup error: `guardrail serve` needs the Python package 'huey' of Guardrail's `app` extra, which "
        "is not installed; run pip install 'guardrail[app]' (in a clone: bash scripts/setup.sh)"
    )
    assert not (tmp_path / "cache" / "crashes").exists()
