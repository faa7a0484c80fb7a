"""Identity fails closed: the repository's name comes from --repo-name, the event, or the origin remote; unknown while
the admin policy names repositories means no cloud model is asked, and the notes say why."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.identity import checkout_identity, repo_identity, repo_name_from_remote
from tests.demo_pr import admin_policy, build_demo
from tests.fakes.model_servers import FakeAnthropic, FakeOllama


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://github.com/acme/secret.git", "acme/secret"),
        ("https://github.com/acme/secret", "acme/secret"),
        ("https://github.com/acme/secret/", "acme/secret"),
        ("https://x-access-token:ghs_abc@github.com/acme/secret.git", "acme/secret"),
        ("http://ghe.example.com/acme/secret.git", "acme/secret"),
        ("git@github.com:acme/secret.git", "acme/secret"),
        ("github.com:acme/secret", "acme/secret"),
        ("ssh://git@github.com/acme/secret.git", "acme/secret"),
        ("ssh://git@ghe.example.com:2222/acme/secret.git", "acme/secret"),
        ("git://github.com/acme/secret.git", "acme/secret"),
        ("/srv/git/secret.git", None),
        ("file:///srv/git/acme/secret.git", None),
        ("../secret", None),
        ("https://gitlab.com/group/sub/secret.git", None),
        ("https://github.com/acme", None),
    ],
)
def test_remote_url_forms(url: str, name: str | None) -> None:
    assert repo_name_from_remote(url) == name


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[FakeOllama, FakeAnthropic]]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setenv("GUARDRAIL_CACHE_DIR", str(tmp_path / "baselines"))
    monkeypatch.delenv("GUARDRAIL_ADMIN_POLICY", raising=False)
    with FakeOllama() as local, FakeAnthropic() as cloud:
        local.script(FakeOllama.error(500, "the local model crashed"))  # so the cloud would be next
        yield local, cloud


def _review(
    tmp_path: Path, servers: tuple[FakeOllama, FakeAnthropic], origin: str | None, capsys: pytest.CaptureFixture[str]
) -> dict[str, object]:
    local, cloud = servers
    repo = build_demo(tmp_path / "repo")
    if origin is not None:
        subprocess.run(["git", "-C", str(repo), "remote", "add", "origin", origin], check=True)
    policy = admin_policy(tmp_path / "admin.yml", local.url, cloud.url)
    argv = ["review", "--repo", str(repo), "--base", "main", "--head", "pr", "--admin-policy", str(policy)]
    assert main([*argv, "--audit-db", str(tmp_path / "audit.db"), "--json", "--quiet"]) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


def test_the_origin_remote_names_a_local_only_repository(
    tmp_path: Path, servers: tuple[FakeOllama, FakeAnthropic], capsys: pytest.CaptureFixture[str]
) -> None:
    out = _review(tmp_path, servers, "git@github.com:acme/secret.git", capsys)
    assert servers[1].requests == []
    assert out["repo"] == "acme/secret"
    notes = out["notes"]
    assert isinstance(notes, list)
    assert "cloud fallback not allowed: local-only repository" in notes
    assert "coder-cloud not asked: local-only repository (admin policy for 'acme/secret')" in notes


def test_no_name_at_all_while_the_policy_names_repositories_asks_no_cloud_model(
    tmp_path: Path, servers: tuple[FakeOllama, FakeAnthropic], capsys: pytest.CaptureFixture[str]
) -> None:
    out = _review(tmp_path, servers, None, capsys)
    assert servers[1].requests == []
    notes = out["notes"]
    assert isinstance(notes, list)
    assert (
        "coder-cloud not asked: repository name unknown while the admin policy names repositories (it could be one "
        "marked local-only); pass --repo-name owner/name or give the checkout an origin remote"
    ) in notes


def test_an_origin_naming_another_repository_still_gets_the_cloud_fallback(
    tmp_path: Path, servers: tuple[FakeOllama, FakeAnthropic], capsys: pytest.CaptureFixture[str]
) -> None:
    out = _review(tmp_path, servers, "https://github.com/acme/app.git", capsys)
    assert out["repo"] == "acme/app"
    assert servers[1].chat_requests  # the checks above can fail: the cloud is asked when it is allowed


@pytest.mark.parametrize(
    ("flag", "hint"),
    [
        ("\uff41cme/payments", ""),  # a full-width "a": looks like acme/payments, matches no glob of the admin's
        ("acme/p\u0430yments", ""),  # a Cyrillic "a"
        ("https://github.com/acme/payments", " (did you mean acme/payments?)"),
        ("acme/payments.git", " (did you mean acme/payments?)"),
        ("acme/payments/", " (did you mean acme/payments?)"),
        ("acme//payments", " (did you mean acme/payments?)"),
        ("acme/payments ", " (did you mean acme/payments?)"),
        ("acme/pay*", ""),
        ("acme", ""),
        ("acme/payments\n", " (did you mean acme/payments?)"),
    ],
)
def test_a_repo_name_flag_that_is_no_owner_name_is_refused(
    flag: str, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["policy", "explain", "--repo-config", "/dev/null", "--repo-name", flag])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f"flag --repo-name: {flag!r} is not a GitHub owner/name{hint}; " in err


def test_a_repo_name_the_origin_contradicts_asks_no_cloud_model(
    tmp_path: Path, servers: tuple[FakeOllama, FakeAnthropic], capsys: pytest.CaptureFixture[str]
) -> None:
    """The checkout is acme/secret's code whatever the flag says: fail closed, and say why."""
    local, cloud = servers
    repo = build_demo(tmp_path / "repo")
    subprocess.run(["git", "-C", str(repo), "remote", "add", "origin", "git@github.com:acme/secret.git"], check=True)
    policy = admin_policy(tmp_path / "admin.yml", local.url, cloud.url)
    argv = ["review", "--repo", str(repo), "--base", "main", "--head", "pr", "--admin-policy", str(policy)]
    argv += ["--repo-name", "octo/web", "--audit-db", str(tmp_path / "audit.db"), "--json", "--quiet"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert cloud.requests == []
    assert (
        "coder-cloud not asked: repository name unknown while the admin policy names repositories (it could be one "
        "marked local-only): --repo-name names octo/web but the checkout's origin remote names acme/secret"
    ) in out["notes"]
    assert main(["log", "--json", "--audit-db", str(tmp_path / "audit.db")]) == 0  # the decision is in the audit log
    logged = json.loads(capsys.readouterr().out)
    run = logged[0] if isinstance(logged, list) else logged["runs"][0]
    assert run["cloud_allowed"] is False and [c["model"] for c in run["candidates"]] == ["coder-local"]
    assert run["excluded"][0]["model"] == "coder-cloud"
    assert "the checkout's origin remote names acme/secret" in run["excluded"][0]["reason"]


@pytest.mark.parametrize(
    ("origin", "claimed", "name"),
    [
        ("https://github.com/acme/secret.git", "octo/web", None),
        ("https://github.com/acme/secret.git", "ACME/Secret", "ACME/Secret"),  # GitHub's names ignore case
        ("https://x-access-token:ghs_abc@github.com/acme/secret", "acme/secret", "acme/secret"),
        (None, "octo/web", "octo/web"),  # no origin: nothing contradicts the event
        ("/srv/mirror/secret.git", "octo/web", "octo/web"),
        ("https://github.com/acme/secret.git", "\uff41cme/secret", None),
    ],
)
def test_the_event_is_checked_against_the_checkouts_origin(
    tmp_path: Path, origin: str | None, claimed: str, name: str | None
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    if origin:
        subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", origin], check=True)
    identity = checkout_identity(tmp_path, claimed, "the GitHub event")
    assert identity.name == name
    if name is None:
        assert "ghs_" not in identity.source and "the GitHub event names" in identity.source


@pytest.mark.parametrize("flag", [None, "octo/web"])
def test_an_origin_with_several_urls_naming_different_repositories_is_not_trusted(
    tmp_path: Path, flag: str | None
) -> None:
    """git fetches from the first URL (acme/secret's code), `git config --get remote.origin.url` shows the last."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    git = ["git", "-C", str(tmp_path), "remote"]
    subprocess.run([*git, "add", "origin", "https://github.com/acme/secret.git"], check=True)
    subprocess.run([*git, "set-url", "--add", "origin", "https://github.com/octo/web.git"], check=True)
    identity = repo_identity(tmp_path, flag)
    assert identity.name is None
    assert "several URLs" in identity.source and "acme/secret" in identity.source
    assert checkout_identity(tmp_path, "octo/web", "the GitHub event").name is None


def test_an_insteadof_rewrite_is_what_the_origin_names(tmp_path: Path) -> None:
    """The URL git really fetches from, after `url.<base>.insteadOf` in the repository's config."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    cfg = ["git", "-C", str(tmp_path), "config"]
    subprocess.run([*cfg, "url.https://github.com/acme/secret.insteadOf", "https://github.com/octo/web"], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", "https://github.com/octo/web"], check=True)
    assert repo_identity(tmp_path, None).name == "acme/secret"
