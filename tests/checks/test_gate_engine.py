"""The gate engine end to end on real git repositories, with real ruff and real pytest."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import sysconfig
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from bot.types import CommandGate, GateSettings, Verdict
from checks.baseline import BaselineCache
from checks.engine import BaselineJob, run_gates
from tests.repos import CALC, CALC_TESTS, GitRepo, alive

pytestmark = pytest.mark.slow

Gate = Callable[..., Verdict]
FAST = GateSettings(tests_timeout=60)


@pytest.fixture
def gate(tmp_path: Path) -> Gate:
    """gate(repo, patch, **settings) -> Verdict; also checks that no worktree is left behind."""

    def run(repo: GitRepo, patch: str, **overrides: object) -> Verdict:
        settings = replace(FAST, **overrides)  # type: ignore[arg-type]
        verdict = run_gates(repo.path, "main", "HEAD", patch, settings, cache_dir=tmp_path / "cache")
        repo.assert_no_worktree_left()
        assert [g.name for g in verdict.gates][:5] == ["apply", "paths", "effect", "ruff", "tests"]
        return verdict

    return run


def statuses(verdict: Verdict) -> dict[str, str]:
    return {g.name: g.status for g in verdict.gates}


def result(verdict: Verdict, name: str):  # type: ignore[no-untyped-def]
    return next(g for g in verdict.gates if g.name == name)


BUGGY = CALC.replace("return a - b", "return a + b")  # sub() is wrong at the head: test_sub fails there


def test_a_fix_that_passes(make_repo: Callable[..., GitRepo], gate: Gate) -> None:
    repo = make_repo({"calc/__init__.py": BUGGY, "tests/test_calc.py": CALC_TESTS})
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": CALC}))
    assert verdict.accepted and verdict.reason is None
    assert statuses(verdict) == {"apply": "pass", "paths": "pass", "effect": "pass", "ruff": "pass", "tests": "pass"}
    assert "2 passed" in result(verdict, "tests").summary


def test_a_patch_that_breaks_a_test(make_repo: Callable[..., GitRepo], gate: Gate) -> None:
    repo = make_repo()
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": CALC.replace("a + b", "a * b")}))
    assert not verdict.accepted and verdict.reason == "tests"
    findings = result(verdict, "tests").findings
    assert [(f.path, f.rule) for f in findings] == [("tests/test_calc.py", "test")]
    assert findings[0].message.startswith("tests/test_calc.py::test_add: ")
    assert findings[0].line == 4  # the test function's line


def test_a_head_whose_test_already_fails_patched_harmlessly_is_accepted(
    make_repo: Callable[..., GitRepo], gate: Gate
) -> None:
    repo = make_repo({"calc/__init__.py": BUGGY, "tests/test_calc.py": CALC_TESTS})
    harmless = BUGGY.replace("def add(a, b):\n    return a + b", "def add(a, b):\n    total = a + b\n    return total")
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": harmless}))
    assert verdict.accepted
    assert "1 failing at the head still fail (not blamed)" in result(verdict, "tests").summary


def test_an_unused_import_is_a_new_ruff_finding(make_repo: Callable[..., GitRepo], gate: Gate) -> None:
    repo = make_repo()
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": "import os\n\n\n" + CALC}))
    assert verdict.reason == "ruff"
    assert [(f.path, f.line, f.rule) for f in result(verdict, "ruff").findings] == [("calc/__init__.py", 1, "F401")]
    assert "ruff defaults" in result(verdict, "ruff").summary
    assert statuses(verdict)["tests"] == "skipped"


def test_old_ruff_findings_are_not_blamed_even_when_their_line_moves(
    make_repo: Callable[..., GitRepo], gate: Gate
) -> None:
    repo = make_repo({"calc/__init__.py": "import os\n\n\n" + CALC, "tests/test_calc.py": CALC_TESTS})
    moved = "VERSION = 1\n\nimport os  # noqa: E402\n\n\n" + CALC  # the unused import is now on line 3
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": moved}))
    assert verdict.accepted, verdict
    assert "1 finding(s) were already there" in result(verdict, "ruff").summary


def test_the_repositorys_ruff_settings_apply(make_repo: Callable[..., GitRepo], gate: Gate) -> None:
    config = '[tool.ruff]\nline-length = 60\n\n[tool.ruff.lint]\nselect = ["E501"]\n'
    repo = make_repo({"pyproject.toml": config, "calc/__init__.py": CALC, "tests/test_calc.py": CALC_TESTS})
    long_line = CALC + "\n\nGREETING = 'a line of seventy characters, too long for this repository'\n"
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": long_line}))
    assert verdict.reason == "ruff"
    assert [(f.line, f.rule) for f in result(verdict, "ruff").findings] == [(9, "E501")]
    assert "the repository's ruff config" in result(verdict, "ruff").summary
    unused_import = gate(repo, repo.diff_for({"calc/__init__.py": "import os\n\n\n" + CALC}))
    assert unused_import.accepted  # F401 is not among this repository's rules


@pytest.mark.parametrize(
    ("files", "rule"),
    [
        ({"tests/test_calc.py": None}, "protected-path"),  # deletes the tests
        (
            {
                "tests/test_calc.py": CALC_TESTS.replace(
                    "def test_sub", "import pytest\n\n\n@pytest.mark.skip\ndef test_sub"
                )
            },
            "protected-path",
        ),
        ({"tests/test_calc.py": CALC_TESTS.replace("== 3", "== 2")}, "protected-path"),  # edits an assertion
        ({"conftest.py": "collect_ignore = ['tests']\n"}, "protected-path"),
        ({".github/workflows/ci.yml": "on: push\n"}, "protected-path"),
        ({"pyproject.toml": "[tool.ruff]\nexclude = ['calc']\n"}, "protected-path"),
        ({"sitecustomize.py": "import os\n"}, "protected-path"),
    ],
    ids=["delete-test", "skip-test", "edit-assertion", "conftest", "workflow", "pyproject", "sitecustomize"],
)
def test_patches_that_weaken_the_gates_are_rejected(
    make_repo: Callable[..., GitRepo], gate: Gate, files: dict[str, str | None], rule: str
) -> None:
    repo = make_repo()
    verdict = gate(repo, repo.diff_for(files))
    assert verdict.reason == "paths"
    findings = result(verdict, "paths").findings
    assert {f.rule for f in findings} == {rule}
    assert {f.path for f in findings} == set(files)


def test_a_symlink_is_rejected(make_repo: Callable[..., GitRepo], gate: Gate) -> None:
    repo = make_repo()
    verdict = gate(repo, repo.diff_for({}, symlinks={"calc/data": "/etc/passwd"}))
    assert verdict.reason == "paths"
    assert ("calc/data", "symlink") in {(f.path, f.rule) for f in result(verdict, "paths").findings}


def test_a_submodule_is_rejected(make_repo: Callable[..., GitRepo], gate: Gate) -> None:
    repo = make_repo()
    patch = (
        "diff --git a/vendor b/vendor\nnew file mode 160000\nindex 0000000..1234567\n--- /dev/null\n+++ b/vendor\n"
        "@@ -0,0 +1 @@\n+Subproject commit 1234567890123456789012345678901234567890\n"
    )
    verdict = gate(repo, patch)
    assert verdict.reason == "paths"
    assert [(f.path, f.rule) for f in result(verdict, "paths").findings] == [("vendor", "submodule")]


def test_a_path_outside_the_repository_is_rejected(make_repo: Callable[..., GitRepo], gate: Gate) -> None:
    repo = make_repo()
    patch = (
        "diff --git a/../evil.py b/../evil.py\nnew file mode 100644\n"
        "--- /dev/null\n+++ b/../evil.py\n@@ -0,0 +1 @@\n+x = 1\n"
    )
    verdict = gate(repo, patch)
    # found in the headers before git sees the patch: never applied, rejected by the paths gate
    assert verdict.reason == "paths"
    assert result(verdict, "apply").status == "skipped"
    assert [(f.path, f.rule) for f in result(verdict, "paths").findings] == [("../evil.py", "outside-repo")]
    assert not (repo.path.parent / "evil.py").exists()


def test_absolute_and_git_dir_paths_are_rejected(make_repo: Callable[..., GitRepo], gate: Gate) -> None:
    repo = make_repo()
    absolute = gate(repo, "--- /dev/null\n+++ /tmp/evil.py\n@@ -0,0 +1 @@\n+x = 1\n")
    assert absolute.reason == "paths"
    assert [(f.path, f.rule) for f in result(absolute, "paths").findings] == [("/tmp/evil.py", "outside-repo")]
    hooks = gate(repo, "--- /dev/null\n+++ b/.git/hooks/pre-commit\n@@ -0,0 +1 @@\n+echo hi\n")
    assert hooks.reason == "paths"
    assert [(f.path, f.rule) for f in result(hooks, "paths").findings] == [(".git/hooks/pre-commit", "git-dir")]
    assert not (repo.path / ".git" / "hooks" / "pre-commit").exists()


def test_a_malformed_diff_is_rejected(make_repo: Callable[..., GitRepo], gate: Gate) -> None:
    repo = make_repo()
    verdict = gate(repo, "Here is the fix:\n```\nreturn a + b\n```\n")
    assert verdict.reason == "apply" and "not a unified diff" in result(verdict, "apply").summary
    assert statuses(verdict) == {
        "apply": "fail",
        "paths": "skipped",
        "effect": "skipped",
        "ruff": "skipped",
        "tests": "skipped",
    }


def test_a_diff_whose_context_does_not_match_is_rejected(make_repo: Callable[..., GitRepo], gate: Gate) -> None:
    repo = make_repo()
    patch = (
        "--- a/calc/__init__.py\n+++ b/calc/__init__.py\n"
        "@@ -1,2 +1,2 @@\n def mul(a, b):\n-    return 0\n+    return a * b\n"
    )
    verdict = gate(repo, patch)
    assert verdict.reason == "apply"
    assert "does not apply" in result(verdict, "apply").summary


def test_a_sloppy_model_diff_with_wrong_counts_still_applies(make_repo: Callable[..., GitRepo], gate: Gate) -> None:
    repo = make_repo()
    # The hunk header claims 5 lines each side; there are 2. git apply --recount fixes that.
    patch = (
        "--- a/calc/__init__.py\n+++ b/calc/__init__.py\n"
        "@@ -4,5 +4,5 @@\n def sub(a, b):\n-    return a - b\n+    return -(b - a)\n"
    )
    verdict = gate(repo, patch)
    assert verdict.accepted, verdict
    assert "--recount" in result(verdict, "apply").summary


def test_binary_and_oversized_patches_are_rejected(make_repo: Callable[..., GitRepo], gate: Gate) -> None:
    repo = make_repo()
    binary = gate(repo, "diff --git a/x.bin b/x.bin\nnew file mode 100644\nGIT binary patch\nliteral 3\nKcmZ?wVE_OC\n")
    assert binary.reason == "apply" and "binary" in result(binary, "apply").summary
    big = repo.diff_for({"calc/__init__.py": CALC + "\n# " + "x" * 2000 + "\n"})
    oversized = gate(repo, big, max_patch_bytes=1000)
    assert oversized.reason == "apply" and "max_patch_bytes" in result(oversized, "apply").summary


def test_a_patch_that_makes_a_test_loop_forever(make_repo: Callable[..., GitRepo], gate: Gate) -> None:
    repo = make_repo()
    marker = f"4242.{uuid.uuid4().int % 10**15}"
    looping = CALC.replace(
        "    return a + b",
        f"    import subprocess\n\n    subprocess.Popen(['sleep', '{marker}'])\n    while True:\n        pass",
    )
    start = time.monotonic()
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": looping}), tests_timeout=10)
    assert verdict.reason == "tests"
    assert "timed out after 10s" in result(verdict, "tests").summary
    assert time.monotonic() - start < 40
    time.sleep(0.3)
    assert alive(marker) == []


def test_broken_collection_is_rejected(make_repo: Callable[..., GitRepo], gate: Gate) -> None:
    repo = make_repo()
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": CALC + "\nraise RuntimeError('boom at import')\n"}))
    assert verdict.reason == "tests"
    assert "the run was interrupted (exit 2: collection errors" in result(verdict, "tests").summary


def test_skipping_tests_from_the_code_under_test_is_rejected(make_repo: Callable[..., GitRepo], gate: Gate) -> None:
    repo = make_repo()
    skipper = CALC.replace("    return a + b", "    import pytest\n\n    pytest.skip('not today')")
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": skipper}))
    assert verdict.reason == "tests"
    messages = [f.message for f in result(verdict, "tests").findings]
    assert any("passed without the patch, now" in m for m in messages)


def test_no_test_ran_is_a_failure(make_repo: Callable[..., GitRepo], gate: Gate) -> None:
    repo = make_repo()
    patch = repo.diff_for(
        {"calc/__init__.py": CALC + "\n\nimport sys\n\nsys.modules['pytest'].skip('away', allow_module_level=True)\n"}
    )
    verdict = gate(repo, patch)
    assert verdict.reason == "tests"
    assert (
        "no tests were collected" in result(verdict, "tests").summary
        or "broken by the patch" in result(verdict, "tests").summary
    )


def test_the_baseline_is_computed_once_per_head(make_repo: Callable[..., GitRepo], gate: Gate, tmp_path: Path) -> None:
    repo = make_repo({"calc/__init__.py": BUGGY, "tests/test_calc.py": CALC_TESTS})
    first = gate(repo, repo.diff_for({"calc/__init__.py": CALC}))
    assert "baseline computed" in result(first, "tests").summary
    [cache_file] = (tmp_path / "cache").glob("*.json")
    stored = json.loads(cache_file.read_text())
    assert stored["head"] == repo.git("rev-parse", "HEAD").strip()
    assert stored["outcomes"] == {"tests.test_calc::test_add": "passed", "tests.test_calc::test_sub": "failed"}
    written = cache_file.stat().st_mtime_ns
    second = gate(repo, repo.diff_for({"calc/__init__.py": BUGGY.replace("a + b\n\n\ndef sub", "b + a\n\n\ndef sub")}))
    assert second.accepted
    assert "baseline cached" in result(second, "tests").summary
    assert cache_file.stat().st_mtime_ns == written
    other_command = gate(repo, repo.diff_for({"calc/__init__.py": CALC}), tests_command="python -m pytest -q")
    assert "baseline computed" in result(other_command, "tests").summary  # keyed by the test command too


def test_secrets_in_the_callers_environment_are_hidden_from_the_tests(
    make_repo: Callable[..., GitRepo], gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:pw@db/x")  # no name pattern catches these: an allowlist does
    monkeypatch.setenv("ACME_DEPLOY_CODE", "hunter2")
    repo = make_repo()
    # add() breaks (and test_add fails) exactly when the code under test can see any of these.
    leaky = CALC.replace(
        "    return a + b",
        "    import os\n\n"
        "    names = ('GITHUB_TOKEN', 'OPENAI_API_KEY', 'DATABASE_URL', 'ACME_DEPLOY_CODE')\n"
        "    seen = [k for k in names if k in os.environ]\n"
        "    return a + b + len(seen)",
    )
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": leaky}))
    assert verdict.accepted, verdict
    exposed = gate(repo, repo.diff_for({"calc/__init__.py": leaky}), pass_env=("ACME_DEPLOY_CODE",))
    assert exposed.reason == "tests"  # only what the config names explicitly gets through


def test_extra_commands_are_compared_with_the_baseline(make_repo: Callable[..., GitRepo], gate: Gate) -> None:
    repo = make_repo()
    check = CommandGate("sub-check", 'python -c "import calc, sys; sys.exit(0 if calc.sub(5, 2) == 3 else 3)"')
    harmless = gate(repo, repo.diff_for({"calc/__init__.py": CALC + "\n\nONE = 1\n"}), commands=(check,))
    assert harmless.accepted
    assert [g.name for g in harmless.gates] == ["apply", "paths", "effect", "ruff", "tests", "sub-check"]
    # test_sub (3 - 1) still passes; the command (5 - 2) does not, and it passed without the patch.
    broken = gate(
        repo, repo.diff_for({"calc/__init__.py": CALC.replace("a - b", "a - b if a < 5 else 0")}), commands=(check,)
    )
    assert broken.reason == "sub-check"
    assert "passed without the patch" in result(broken, "sub-check").summary
    already = CommandGate("always-fails", 'python -c "raise SystemExit(1)"')
    not_blamed = gate(repo, repo.diff_for({"calc/__init__.py": CALC + "\n\nTWO = 2\n"}), commands=(already,))
    assert not_blamed.accepted
    assert "already failed without the patch" in result(not_blamed, "always-fails").summary


def test_tests_exercise_the_worktree_even_with_an_editable_install_elsewhere(
    make_repo: Callable[..., GitRepo], gate: Gate, tmp_path: Path
) -> None:
    files = {"src/calc/__init__.py": BUGGY, "tests/test_calc.py": CALC_TESTS}
    repo = make_repo(files)
    # Another checkout of the same project, installed in editable mode (a path .pth file, as setuptools writes for
    # a src layout) into a virtualenv that also sees this interpreter's packages (for pytest).
    other = tmp_path / "other-checkout"
    for rel, text in files.items():
        (other / rel).parent.mkdir(parents=True, exist_ok=True)
        (other / rel).write_text(text)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(
        subprocess.run(
            [venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    (site / "__editable__.calc-0.1.pth").write_text(f"{other / 'src'}\n")
    (site / "zz_pytest_from_outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    python = venv / "bin" / "python"
    installed = subprocess.run([python, "-c", "import calc; print(calc.__file__)"], capture_output=True, text=True)
    assert installed.stdout.startswith(str(other))  # without the gate's help, `calc` is the other checkout's

    verdict = gate(repo, repo.diff_for({"src/calc/__init__.py": CALC}), tests_command=f"{python} -m pytest")
    assert verdict.accepted, verdict
    assert "2 passed" in result(verdict, "tests").summary


def test_another_test_runner_writes_junit_to_the_given_path(make_repo: Callable[..., GitRepo], gate: Gate) -> None:
    runner = """import os
import unittest
from xml.sax.saxutils import quoteattr

from calc import add

cases = []
for name, ok in (("adds", add(1, 2) == 3), ("commutes", add(2, 1) == add(1, 2))):
    failure = "" if ok else "<failure message='wrong sum'/>"
    cases.append(f"<testcase classname='runner' name={quoteattr(name)}>{failure}</testcase>")
with open(os.environ["GUARDRAIL_JUNIT_XML"], "w") as out:
    out.write("<testsuite>" + "".join(cases) + "</testsuite>")
"""
    repo = make_repo({"calc/__init__.py": CALC, "run_checks.py": runner})
    settings = {"tests_command": "python run_checks.py", "protected_add": ("run_checks.py",)}
    accepted = gate(repo, repo.diff_for({"calc/__init__.py": CALC + "\n\nONE = 1\n"}), **settings)
    assert accepted.accepted, accepted
    assert "2 passed" in result(accepted, "tests").summary
    rejected = gate(repo, repo.diff_for({"calc/__init__.py": CALC.replace("a + b", "a * b")}), **settings)
    assert rejected.reason == "tests"
    assert [f.message for f in result(rejected, "tests").findings] == ["runner.py::adds: wrong sum (was passed)"]
    edits_runner = gate(repo, repo.diff_for({"run_checks.py": "print('all good')\n"}), **settings)
    assert edits_runner.reason == "paths"


def test_abandoning_a_run_kills_the_background_baseline(make_repo: Callable[..., GitRepo], tmp_path: Path) -> None:
    # What Ctrl-C (or any error) in the middle of a first patch does: the baseline run must not go on for its timeout.
    repo = make_repo(
        {"calc/__init__.py": CALC, "tests/test_slow.py": "import time\n\n\ndef test_slow():\n    time.sleep(600)\n"}
    )
    head = repo.git("rev-parse", "HEAD").strip()
    job = BaselineJob(repo.path, head, GateSettings(tests_timeout=600), BaselineCache(tmp_path / "cache"))
    job.start()
    time.sleep(1.5)
    start = time.monotonic()
    job.close(abandon=True)
    assert time.monotonic() - start < 10
    repo.assert_no_worktree_left()
    assert not list((tmp_path / "cache").glob("*.json"))  # a killed run is not a baseline


def test_a_test_command_that_cannot_run_is_a_gate_error(make_repo: Callable[..., GitRepo], gate: Gate) -> None:
    repo = make_repo()
    patch = repo.diff_for({"calc/__init__.py": CALC + "\n\nONE = 1\n"})
    verdict = gate(repo, patch, tests_command="no-such-test-runner --all")
    assert verdict.reason == "tests"
    assert result(verdict, "tests").status == "error"
    assert "no-such-test-runner" in result(verdict, "tests").summary  # names what could not be started


def test_a_secret_that_pr_code_found_is_redacted_from_the_report(
    make_repo: Callable[..., GitRepo], gate: Gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Say the token was committed to the repository by mistake, so the code under test can read it: a test's failure
    # message must not carry it into a comment on the pull request, neither plain nor in a common disguise.
    token = "ghs_0123456789abcdef"
    monkeypatch.setenv("GITHUB_TOKEN", token)
    repo = make_repo({"calc/__init__.py": CALC, "tests/test_calc.py": CALC_TESTS, "calc/leaked.txt": token})
    leak = CALC.replace(
        "    return a + b",
        "    import base64\n    import pathlib\n\n"
        "    t = pathlib.Path(__file__).with_name('leaked.txt').read_text()\n"
        "    blob = base64.b64encode(b'x' + t.encode() + b'y').decode()\n"
        "    return ' | '.join([t, t[::-1], t.encode().hex().upper(), base64.b64encode(t.encode()).decode(), blob])",
    )
    verdict = gate(repo, repo.diff_for({"calc/__init__.py": leak}))
    assert verdict.reason == "tests"
    report = repr(verdict)
    assert "***" in report
    for form in (token, token[::-1], token.encode().hex(), base64.b64encode(token.encode()).decode()):
        assert form.lower() not in report.lower()
    assert base64.b64encode(token.encode())[:12].decode() not in report
    assert base64.b64encode(b"x" + token.encode() + b"y")[4:20].decode() not in report


def test_cached_bytecode_never_hides_a_change(make_repo: Callable[..., GitRepo], gate: Gate) -> None:
    # Same path, same size, seconds apart: the second patch's code must run, not the first one's bytecode.
    repo = make_repo()
    swapped = gate(repo, repo.diff_for({"calc/__init__.py": CALC.replace("a + b", "b + a")}))
    assert swapped.accepted
    broken = gate(repo, repo.diff_for({"calc/__init__.py": CALC.replace("a + b", "a * b")}))
    assert broken.reason == "tests"
    again = gate(repo, repo.diff_for({"calc/__init__.py": CALC.replace("a + b", "b + a")}))
    assert again.accepted
    bytecode = Path(os.environ["GUARDRAIL_PYCACHE_DIR"])
    assert list(bytecode.rglob("calc/__init__.*.pyc"))  # kept in the store (outside the worktree) for the next run
