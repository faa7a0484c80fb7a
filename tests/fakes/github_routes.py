"""Routing of the fake GitHub: which handler serves which method and path, authentication, write permission and
injected faults, in the order GitHub applies them (a rate limit answers before permission is looked at)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
from starlette.requests import Request

from . import github_checks as checks
from . import github_pulls as pulls
from .github_http import DOCS, Call, Reply

if TYPE_CHECKING:
    from .github_server import FakeGitHub, Fault

_REPO = "/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    op: str  # operationId in rest-subset.json
    handler: Callable[[Call], Reply]
    write: bool = False
    app_jwt: bool = False  # authenticated with the App's JWT instead of a token


def _r(method: str, path: str, op: str, handler: Callable[[Call], Reply], **flags: bool) -> Route:
    return Route(method, re.compile(path), op, handler, **flags)


_PULL = _REPO + r"/pulls/(?P<number>\d+)"
_ISSUE = _REPO + r"/issues/(?P<number>\d+)"
_RUN = _REPO + r"/check-runs/(?P<check_run_id>\d+)"
_COMMENT = _REPO + r"/issues/comments/(?P<comment_id>\d+)"
_STATUS = _REPO + "/statuses/(?P<sha>[0-9a-fA-F]+)"
_TOKENS = r"/app/installations/(?P<installation_id>\d+)/access_tokens"

ROUTES = (
    _r("GET", _REPO, "repos/get", pulls.get_repo),
    _r("GET", _PULL, "pulls/get", pulls.get_pull),
    _r("GET", _PULL + "/files", "pulls/list-files", pulls.list_files),
    _r("GET", _ISSUE + "/comments", "issues/list-comments", pulls.list_issue_comments),
    _r("POST", _ISSUE + "/comments", "issues/create-comment", pulls.create_issue_comment, write=True),
    _r("PATCH", _COMMENT, "issues/update-comment", pulls.update_issue_comment, write=True),
    _r("GET", _PULL + "/reviews", "pulls/list-reviews", pulls.list_reviews),
    _r("POST", _PULL + "/reviews", "pulls/create-review", pulls.create_review, write=True),
    _r("GET", _PULL + "/comments", "pulls/list-review-comments", pulls.list_review_comments),
    _r("POST", _REPO + "/check-runs", "checks/create", checks.create_check_run, write=True),
    _r("PATCH", _RUN, "checks/update", checks.update_check_run, write=True),
    _r("GET", _RUN, "checks/update", checks.get_check_run),
    _r("GET", _RUN + "/annotations", "checks/list-annotations", checks.list_annotations),
    _r("GET", _REPO + "/commits/(?P<ref>[^/]+)/check-runs", "checks/list-for-ref", checks.list_check_runs_for_ref),
    _r("POST", _STATUS, "repos/create-commit-status", checks.create_status, write=True),
    _r("GET", _REPO + "/collaborators/(?P<user>[^/]+)/permission", "repos/get", checks.get_permission),
    _r("GET", _REPO + "/installation", "apps/get-repo-installation", checks.get_repo_installation, app_jwt=True),
    _r("GET", "/rate_limit", "rate-limit/get", checks.rate_limit),
    _r("POST", _TOKENS, "apps/create-installation-access-token", checks.create_access_token, app_jwt=True),
)


def bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() in ("token", "bearer") else ""


def route_of(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in ROUTES:
        if route.method == method and (match := route.pattern.fullmatch(path)):
            return route, match.groupdict()
    return None


def handle(fake: FakeGitHub, request: Request, body: Any, take_fault: Callable[[str, str], Fault | None]) -> Reply:
    """Route, authenticate, inject faults, check write permission, then run the handler under the fake's lock."""
    method, path = request.method, request.url.path
    found = route_of(method, path)
    if found is None:
        return Reply(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"})
    route, params = found
    accept = request.headers.get("accept", "")
    call = Call(fake, route.op, path, params, dict(request.query_params), body, accept, bearer(request))
    denied = _check_app_jwt(call) if route.app_jwt else _check_token(call, route)
    fault = take_fault(method, path)
    if fault and not fault.apply:
        return Reply(fault.status, fault.body, fault.headers)
    if denied:
        return denied
    with fake.lock:
        reply = route.handler(call)
    return Reply(fault.status, fault.body, fault.headers) if fault else reply


def _check_token(call: Call, route: Route) -> Reply | None:
    known = call.fake.tokens.get(call.token)
    if known is None:
        return Reply(401, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"})
    call.login = known.login
    if route.write and known.permission != "write":
        return call.error(403, "Resource not accessible by integration")
    return None


def _check_app_jwt(call: Call) -> Reply | None:
    """App endpoints take the App's RS256 JWT. The fake checks its claims (``iss``, ``exp``), not the signature."""
    try:
        claims = jwt.decode(call.token, options={"verify_signature": False, "verify_exp": True})
    except jwt.PyJWTError as exc:
        message = f"A JSON web token could not be decoded ({exc})"
        return Reply(401, {"message": message, "documentation_url": DOCS, "status": "401"})
    app_ids = {str(i["app_id"]) for i in call.fake.installations.values()}
    if str(claims.get("iss")) not in app_ids:
        return Reply(401, {"message": "Integration not found", "documentation_url": DOCS, "status": "401"})
    return None
