"""GitHub App authentication for the App front door: the App's JWT buys a one-hour installation access token.

PyGithub signs the JWT (RS256, ``iss`` = App id, ``iat`` 60 s in the past) through ``Auth.AppAuth``; the token it
returns is what ``PyGithubAdapter`` takes. Installation tokens expire after an hour (401 afterwards), so fetch one
per webhook delivery rather than caching it for long (FACTS.md §2).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from github import Auth, GithubIntegration

from bot.github.retry import Operation, RetryPolicy, call_with_retries


@dataclass(frozen=True)
class InstallationToken:
    token: str
    expires_at: float  # epoch seconds


@dataclass(frozen=True)
class AppCredentials:
    app_id: str  # the numeric App id or its client id, as GitHub shows it on the App's settings page
    private_key: str  # PEM text of the App's private key


def _integration(credentials: AppCredentials, base_url: str) -> GithubIntegration:
    auth = Auth.AppAuth(credentials.app_id, credentials.private_key)
    return GithubIntegration(
        auth=auth, base_url=base_url.rstrip("/"), seconds_between_requests=None, seconds_between_writes=None
    )


def installation_token(
    credentials: AppCredentials,
    installation_id: int,
    *,
    base_url: str = "https://api.github.com",
    sleep: Callable[[float], None] = time.sleep,
) -> InstallationToken:
    """A fresh installation access token (``POST /app/installations/{id}/access_tokens``)."""

    def post() -> InstallationToken:
        granted = _integration(credentials, base_url).get_access_token(installation_id)
        return InstallationToken(token=granted.token, expires_at=granted.expires_at.timestamp())

    # Asking twice only mints a second token, so the request may be repeated after a 5xx.
    op = Operation(f"get an access token for App installation {installation_id}", repeatable=True)
    return call_with_retries(op, post, policy=RetryPolicy(), sleep=sleep)


def installation_for_repo(
    credentials: AppCredentials,
    repo: str,
    *,
    base_url: str = "https://api.github.com",
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """The id of the App's installation on ``repo`` (``GET /repos/{owner}/{repo}/installation``)."""
    owner, name = repo.split("/", 1)
    op = Operation(f"find the App installation on {repo}", repeatable=True)
    return call_with_retries(
        op,
        lambda: int(_integration(credentials, base_url).get_repo_installation(owner, name).id),
        policy=RetryPolicy(),
        sleep=sleep,
    )


REFRESH_MARGIN = 300.0  # seconds before expiry at which a cached token is replaced (a job may run for minutes)


class InstallationTokens:
    """Installation tokens by installation id, each fetched once and refreshed ``REFRESH_MARGIN`` seconds before its
    hour ends, so a long job never holds a token that expires halfway (an expired token is a 401, FACTS.md §2)."""

    def __init__(
        self,
        credentials: AppCredentials,
        *,
        base_url: str = "https://api.github.com",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._credentials = credentials
        self._base_url = base_url
        self._clock = clock
        self._sleep = sleep
        self._tokens: dict[int, InstallationToken] = {}

    def get(self, installation_id: int) -> str:
        """A token valid for at least ``REFRESH_MARGIN`` more seconds; raises GitHubError when GitHub refuses."""
        cached = self._tokens.get(installation_id)
        if cached is None or cached.expires_at - self._clock() < REFRESH_MARGIN:
            cached = installation_token(self._credentials, installation_id, base_url=self._base_url, sleep=self._sleep)
            self._tokens[installation_id] = cached
        return cached.token
