"""Reading untrusted patch headers, and the protected-path patterns (fast: no git, no pytest)."""

from __future__ import annotations

import pytest

from bot.types import GateSettings
from checks.patch import PatchRejected, parse
from checks.paths import DEFAULT_PROTECTED, matches, protected_patterns

LIMIT = 512_000


def test_plain_unified_diff_without_prefixes_uses_strip_0() -> None:
    patch = parse("--- calc.py\n+++ calc.py\n@@ -1 +1 @@\n-a\n+b\n", LIMIT)
    assert patch.strip == 0
    assert [(f.old_path, f.new_path) for f in patch.files] == [("calc.py", "calc.py")]


def test_git_diff_headers_renames_modes_and_deletions() -> None:
    text = (
        "diff --git a/old.py b/new dir/new.py\nsimilarity index 100%\nrename from old.py\nrename to new dir/new.py\n"
        "diff --git a/gone.py b/gone.py\ndeleted file mode 100644\n--- a/gone.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n"
        "diff --git a/link b/link\nnew file mode 120000\n--- /dev/null\n+++ b/link\n@@ -0,0 +1 @@\n+/etc\n"
    )
    patch = parse(text, LIMIT)
    assert patch.strip == 1
    assert [(f.old_path, f.new_path) for f in patch.files] == [
        ("old.py", "new dir/new.py"),
        ("gone.py", None),
        (None, "link"),
    ]
    assert patch.files[2].modes == ("120000",)
    assert patch.touched() == ["new dir/new.py", "link"]


def test_a_removed_sql_comment_is_not_a_file_header() -> None:
    text = "--- a/q.sql\n+++ b/q.sql\n@@ -1,2 +1,2 @@\n--- old comment\n++- new comment\n x\n"
    assert [f.path for f in parse(text, LIMIT).files] == ["q.sql"]


def test_missing_final_newline_is_added() -> None:
    assert parse("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b", LIMIT).text.endswith("+b\n")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("hello, here is my fix: use a + b\n", "not a unified diff"),
        ("diff --git a/x.bin b/x.bin\nGIT binary patch\nliteral 3\n", "binary"),
        ("diff --git a/x.png b/x.png\nBinary files a/x.png and b/x.png differ\n", "binary"),
        ("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-\0\n+b\n", "NUL"),
        ("--- a/x\n+++ b/x\n@@ -1 +1 @@\n" + "+x\n" * 200, "over the limit of 100"),
    ],
)
def test_unusable_patches_are_rejected_before_git(text: str, reason: str) -> None:
    with pytest.raises(PatchRejected, match=reason):
        parse(text, 100 if "limit" in reason else LIMIT)


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("tests/", "tests/test_calc.py", True),
        ("tests/", "pkg/tests/data/x.json", True),
        ("tests/", "tests", False),  # a file called "tests" is not the folder
        ("test_*.py", "pkg/test_util.py", True),
        ("*_test.py", "calc_test.py", True),
        ("conftest.py", "deep/er/conftest.py", True),
        (".github/", ".github/workflows/ci.yml", True),
        ("pyproject.toml", "pyproject.toml", True),
        ("pyproject.toml", "sub/pyproject.toml", True),
        ("migrations/**", "migrations/0001_init.py", True),
        ("migrations/**", "app/migrations/0001_init.py", False),  # anchored: has a '/'
        ("src/*/settings.py", "src/app/settings.py", True),
        ("src/*/settings.py", "src/app/deep/settings.py", False),
        ("**/settings.py", "src/app/deep/settings.py", True),
        ("*.pth", "evil.pth", True),
        ("tests/", "calc/__init__.py", False),
    ],
)
def test_protected_path_patterns(pattern: str, path: str, expected: bool) -> None:
    assert matches(pattern, path) is expected


def test_config_adds_and_removes_protected_patterns() -> None:
    settings = GateSettings(protected_add=("migrations/**",), protected_remove=("setup.cfg",))
    patterns = protected_patterns(settings)
    assert "migrations/**" in patterns
    assert "setup.cfg" not in patterns
    assert set(DEFAULT_PROTECTED) - {"setup.cfg"} <= set(patterns)
