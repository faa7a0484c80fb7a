"""What ``guardrail serve`` and ``guardrail worker`` read: environment variables, or flags of the same names.

    =========================  ==================================  ==========================================
    variable                   flag                                meaning (default)
    =========================  ==================================  ==========================================
    GUARDRAIL_WEBHOOK_SECRET   --webhook-secret                    the App's webhook secret (serve: required)
    GUARDRAIL_APP_ID           --app-id                            the App's id or client id (workers: required)
    GUARDRAIL_APP_PRIVATE_KEY  --app-private-key                   path of the App's PEM key (workers: required)
    GITHUB_API_URL             --github-api-url                    https://api.github.com (GHES: https://HOST/api/v3)
    GUARDRAIL_ADMIN_POLICY     --admin-policy                      admin policy file or inline YAML (embedded default)
    GUARDRAIL_QUEUE            --queue                             SQLite path or redis:// URL (the state directory's
                                                                   guardrail/queue.sqlite3)
    GUARDRAIL_WORKERS          --workers                           worker processes (serve: 1; 0 = web only)
    GUARDRAIL_LEASE_SECONDS    --lease-seconds                     a running job's lease; a job whose worker stopped
                                                                   renewing it is run again (30)
    GUARDRAIL_JOB_SECONDS      --job-seconds                       the most one job may take, model calls and gates
                                                                   together; stopped and said in the PR after (3600)
    GUARDRAIL_GIT_URL          --git-url                           clone URL template with {repo} (the payload's
                                                                   repository.clone_url)
    =========================  ==================================  ==========================================

A flag wins over the variable. Every problem is a ConfigError naming the variable and flag, so the command exits 2
with one line.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from platformdirs import user_state_dir

from bot.errors import ConfigError
from bot.policy_model import load_admin_policy, load_admin_policy_text

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_JOB_SECONDS = 3600.0  # a repository's config cannot lift it: one job holds one worker at most this long
MIN_SECRET_CHARS = 20  # below this a webhook secret is guessable; GitHub's docs ask for "a random string with high
# entropy" (docs.github.com /webhooks/using-webhooks/validating-webhook-deliveries)


@dataclass(frozen=True)
class ServerSettings:
    webhook_secret: str
    app_id: str
    private_key_path: Path | None
    api_url: str
    admin_policy: str
    queue: str
    workers: int
    lease_seconds: float = 30.0
    job_seconds: float = DEFAULT_JOB_SECONDS
    git_url: str = ""

    @property
    def secret_bytes(self) -> bytes:
        return self.webhook_secret.encode("utf-8")

    def private_key(self) -> str:
        """The PEM text of the App's key; a ConfigError naming the variable when it is missing or unreadable."""
        where = "GUARDRAIL_APP_PRIVATE_KEY (--app-private-key)"
        if self.private_key_path is None:
            raise ConfigError("not set: workers need the App's private key (a .pem file) to get tokens", where=where)
        try:
            text = self.private_key_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read {self.private_key_path} ({exc.strerror})", where=where) from exc
        if "PRIVATE KEY-----" not in text:
            raise ConfigError(f"{self.private_key_path} is not a PEM private key", where=where)
        return text


FIELDS: dict[str, str] = {  # variable -> flag
    "GUARDRAIL_WEBHOOK_SECRET": "--webhook-secret",
    "GUARDRAIL_APP_ID": "--app-id",
    "GUARDRAIL_APP_PRIVATE_KEY": "--app-private-key",
    "GITHUB_API_URL": "--github-api-url",
    "GUARDRAIL_ADMIN_POLICY": "--admin-policy",
    "GUARDRAIL_QUEUE": "--queue",
    "GUARDRAIL_WORKERS": "--workers",
    "GUARDRAIL_LEASE_SECONDS": "--lease-seconds",
    "GUARDRAIL_JOB_SECONDS": "--job-seconds",
    "GUARDRAIL_GIT_URL": "--git-url",
}


def default_queue() -> str:
    return str(Path(user_state_dir("guardrail")) / "queue.sqlite3")


def _where(name: str) -> str:
    return f"{name} ({FIELDS[name]})"


def operator_policy(value: str) -> str:
    """The admin policy as the workers will read it, checked now (a malformed one stops the start with the file, the
    line and the key): a file's path made absolute, or inline YAML as given. The workers read it with the Action's
    rule (``action_git.admin_policy_at_base``), where a relative path names a file in the repository's checkout: a
    repository carrying a file of that name would then write its own admin policy (its own models, the cloud, no
    gate maxima). Absolute, it is the operator's file, whatever the repository holds."""
    text = value.strip()
    if not text:
        return ""
    where = _where("GUARDRAIL_ADMIN_POLICY")
    if "\n" not in text:
        path = Path(os.path.expanduser(text)).absolute()
        if path.is_file() or ":" not in text:
            if not path.is_file():
                raise ConfigError(
                    f"no such file {str(path)!r}; give the policy file's path, or inline YAML", where=where
                )
            load_admin_policy(path, {})
            return str(path)
    load_admin_policy_text(text, where)
    return value


def _number(raw: str, name: str, *, whole: bool) -> float:
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise ConfigError(f"{raw!r} is not {kind}", where=_where(name)) from None
    if value < 0:
        raise ConfigError(f"{raw!r} must not be negative", where=_where(name))
    return value


def settings_from(
    env: Mapping[str, str], flags: Mapping[str, str | None], *, need_secret: bool, default_workers: int = 1
) -> ServerSettings:
    """Settings from ``flags`` (by variable name; None = not given) over ``env``."""

    def get(name: str) -> str:
        flag = flags.get(name)
        return (flag if flag is not None else env.get(name, "")).strip()

    secret = get("GUARDRAIL_WEBHOOK_SECRET")
    if need_secret and not secret:
        raise ConfigError(
            "not set: the server refuses to start without the App's webhook secret (set the same value as on the "
            "App's settings page)",
            where=_where("GUARDRAIL_WEBHOOK_SECRET"),
        )
    queue = get("GUARDRAIL_QUEUE") or default_queue()
    if "://" in queue and not queue.startswith(("redis://", "rediss://", "unix://")):
        message = f"{queue!r} is neither a SQLite file path nor a redis:// URL"
        raise ConfigError(message, where=_where("GUARDRAIL_QUEUE"))
    key = get("GUARDRAIL_APP_PRIVATE_KEY")
    git_url = get("GUARDRAIL_GIT_URL")
    if git_url and "{repo}" not in git_url:
        raise ConfigError(f"{git_url!r} has no {{repo}} placeholder", where=_where("GUARDRAIL_GIT_URL"))
    api_url = (get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
    api = urlsplit(api_url)
    if api.scheme not in ("http", "https") or not api.hostname:
        message = f"{api_url!r} is not an https:// URL; give {DEFAULT_API_URL} or, for GHES, https://HOST/api/v3"
        raise ConfigError(message, where=_where("GITHUB_API_URL"))
    workers_raw = get("GUARDRAIL_WORKERS")
    job_raw = get("GUARDRAIL_JOB_SECONDS")
    job_seconds = _number(job_raw, "GUARDRAIL_JOB_SECONDS", whole=False) if job_raw else DEFAULT_JOB_SECONDS
    if not 1 <= job_seconds <= 24 * 3600:
        raise ConfigError(f"{job_raw!r} must be 1 to 86400 seconds", where=_where("GUARDRAIL_JOB_SECONDS"))
    lease_raw = get("GUARDRAIL_LEASE_SECONDS")
    lease = _number(lease_raw, "GUARDRAIL_LEASE_SECONDS", whole=False) if lease_raw else 30.0
    if lease < 2:
        raise ConfigError(f"{lease_raw!r} is too short (at least 2 seconds)", where=_where("GUARDRAIL_LEASE_SECONDS"))
    return ServerSettings(
        webhook_secret=secret,
        app_id=get("GUARDRAIL_APP_ID"),
        private_key_path=Path(os.path.expanduser(key)) if key else None,
        api_url=api_url,
        admin_policy=operator_policy(flags.get("GUARDRAIL_ADMIN_POLICY") or env.get("GUARDRAIL_ADMIN_POLICY", "")),
        queue=queue,
        workers=int(_number(workers_raw, "GUARDRAIL_WORKERS", whole=True)) if workers_raw else default_workers,
        lease_seconds=lease,
        job_seconds=job_seconds,
        git_url=git_url,
    )


def weaknesses(settings: ServerSettings, flags: Mapping[str, str | None], *, secret: bool) -> list[str]:
    """What is weak in a configuration that still starts, one line each naming the variable and the fix (the start
    logs them as warnings): a short webhook secret, a secret given as a flag (every local user sees it in ``ps``),
    GitHub's API or the git URL over plain HTTP to another machine (tokens in the clear), a Redis queue on another
    machine without a password or without TLS, an App key file that other users can read. ``secret``: whether this
    process uses the webhook secret."""
    lines = []
    if secret and len(settings.webhook_secret) < MIN_SECRET_CHARS:
        lines.append(
            f"{_where('GUARDRAIL_WEBHOOK_SECRET')}: the secret has only {len(settings.webhook_secret)} characters; "
            f"anyone who guesses it can make the App run jobs. Use {MIN_SECRET_CHARS} or more random characters "
            "(python -c 'import secrets; print(secrets.token_hex(32))'), here and on the App's settings page"
        )
    if secret and flags.get("GUARDRAIL_WEBHOOK_SECRET") is not None:
        lines.append(
            "--webhook-secret: a secret given as a flag shows in `ps` to every user of this machine; set "
            "GUARDRAIL_WEBHOOK_SECRET in the environment instead"
        )
    for name, url in (("GITHUB_API_URL", settings.api_url), ("GUARDRAIL_GIT_URL", settings.git_url)):
        if _plain_http_remote(url):
            lines.append(
                f"{_where(name)}: {url} is plain HTTP to another machine: the App's tokens would cross the network "
                "unencrypted; use https://"
            )
    queue = urlsplit(settings.queue)
    if queue.scheme in ("redis", "rediss") and not _loopback(queue.hostname or ""):
        shown = f"{queue.scheme}://{queue.hostname}:{queue.port or 6379}"  # never the password
        if not queue.password:
            lines.append(
                f"{_where('GUARDRAIL_QUEUE')}: {shown} has no password: whoever reaches it can run code in every "
                "worker (huey keeps jobs as pickles). Set requirepass (redis://:PASSWORD@host) and keep it private"
            )
        elif queue.scheme == "redis":
            lines.append(
                f"{_where('GUARDRAIL_QUEUE')}: {shown} is plain TCP to another machine: its password and the jobs "
                "cross the network unencrypted; use rediss:// (Redis with TLS)"
            )
    key = settings.private_key_path
    try:
        mode = key.stat().st_mode if key is not None else 0
    except OSError:
        mode = 0  # a missing key is refused where it is read
    if key is not None and mode & 0o077:
        lines.append(
            f"{_where('GUARDRAIL_APP_PRIVATE_KEY')}: {key} can be read by other users (mode {mode & 0o777:o}), and "
            f"it acts as the App on every installation; run chmod 600 {key}"
        )
    return lines


def _plain_http_remote(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme.lower() == "http" and not _loopback(parts.hostname or "")


def _loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine: ``localhost`` or a loopback address."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # another name
