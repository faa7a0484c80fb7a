"""A fake GitHub REST API on 127.0.0.1 for tests: real HTTP, real status codes, bodies shaped like the recordings.

Seed it with plain Python, point PyGithub (or httpx) at ``fake.base_url``, then read back what was posted::

    with FakeGitHub() as fake:
        fake.add_repo("acme/widgets")
        fake.add_pull("acme/widgets", 7, base_sha="a" * 40, head_sha="b" * 40, diff_text=diff)
        ...  # run the code under test with token=fake.token, base_url=fake.base_url
        assert fake.reviews("acme/widgets", 7)[0]["comments"][0]["line"] == 3

What it models and from which recordings: docs/github-fake.md. The endpoints live in ``github_routes``.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import github_http, github_pulls, github_routes, github_shapes
from .github_diff import FileDiff, parse_diff

SECONDARY_RATE_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
RATE_LIMIT_LIMIT = 5000


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received, and the status it answered with."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: Any  # decoded JSON, or None
    status: int


@dataclass
class Fault:
    method: str
    path_glob: str
    status: int
    headers: dict[str, str]
    body: Any
    apply: bool  # handle the request (change state) before answering with the fault, like a 502 after a write
    remaining: int


@dataclass
class Token:
    permission: str  # "write" or "read"
    login: str
    used: int = 0


@dataclass
class PullState:
    repo: str
    number: int
    data: dict[str, Any]
    diff: str
    files: dict[str, FileDiff]
    diff_too_large: bool = False
    issue_comments: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    review_comments: list[dict[str, Any]] = field(default_factory=list)


class FakeGitHub:
    """State, seeding and inspection API, fault injection and the uvicorn server of the fake GitHub.

    Seeding: ``grant``, ``expire_token``, ``add_repo``, ``add_pull``, ``add_issue_comment``, ``push``,
    ``set_permission``, ``add_installation``. Faults: ``fail_next``, ``fail_secondary_rate_limit``,
    ``fail_primary_rate_limit``.
    Inspection: ``requests``, ``requests_to``, ``clear_requests``, ``reviews``, ``issue_comments``, ``check_runs``,
    ``statuses``. Bodies returned by inspection are the JSON GitHub would list, as plain dicts.
    """

    def __init__(self, token: str = "ghs_FakeWriteToken0000000000000000000001") -> None:
        self.token = token
        self.lock = threading.RLock()
        self.ids = itertools.count(1000)
        self.repos: dict[str, dict[str, Any]] = {}
        self.pulls: dict[tuple[str, int], PullState] = {}
        self.check_runs_by_id: dict[int, dict[str, Any]] = {}
        self.annotations: dict[int, list[dict[str, Any]]] = {}
        self.statuses_by_sha: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.permissions: dict[tuple[str, str], str] = {}
        self.installations: dict[int, dict[str, Any]] = {}
        self.tokens: dict[str, Token] = {}
        self.rate_limit_reset = int(time.time()) + 3600
        self._faults: list[Fault] = []
        self._requests: list[RecordedRequest] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._base_url = ""
        self.grant(token, "write")

    # ---- lifecycle ---------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if not self._base_url:
            raise RuntimeError("FakeGitHub is not started: use `with FakeGitHub() as fake:` or call start()")
        return self._base_url

    def start(self) -> FakeGitHub:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # else Nagle + delayed ACK add 40 ms a reply
        sock.bind(("127.0.0.1", 0))
        self._base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        app = Starlette(routes=[Route("/{path:path}", self._endpoint, methods=["GET", "POST", "PATCH", "PUT"])])
        config = uvicorn.Config(app, log_level="error", access_log=False, lifespan="off", ws="none")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, args=(sock,), name="fake-github", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 5
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake GitHub server did not start within 5 s")
            time.sleep(0.005)
        return self

    def _run(self, sock: socket.socket) -> None:
        assert self._server is not None
        asyncio.run(self._server.serve(sockets=[sock]))
        sock.close()

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._server.force_exit = True  # idle keep-alive connections need no grace period
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- seeding -----------------------------------------------------------------------------------------------

    def grant(self, token: str, permission: str = "write", login: str = "github-actions[bot]") -> None:
        """Accept ``token``; a ``read`` token gets GitHub's 403 on every write, like a fork PR's GITHUB_TOKEN."""
        if permission not in ("write", "read"):
            raise ValueError(f"permission must be 'write' or 'read', not {permission!r}")
        with self.lock:
            self.tokens[token] = Token(permission, login)

    def expire_token(self, token: str) -> None:
        """``token``'s hour is over: every call with it gets GitHub's 401 "Bad credentials" (FACTS.md §2)."""
        with self.lock:
            self.tokens.pop(token, None)

    def user(self, login: str) -> dict[str, Any]:
        kind = "Bot" if login.endswith("[bot]") else "User"
        return github_shapes.user(self.base_url, login, 1 + sum(map(ord, login)), kind)

    def add_repo(self, full_name: str, *, private: bool = False, default_branch: str = "main") -> dict[str, Any]:
        owner = full_name.split("/")[0]
        with self.lock:
            self.repos[full_name] = github_shapes.repository(
                self.base_url,
                full_name,
                next(self.ids),
                self.user(owner),
                private=private,
                default_branch=default_branch,
                fork=False,
            )
            return self.repos[full_name]

    def add_pull(
        self,
        repo: str,
        number: int,
        *,
        base_sha: str,
        head_sha: str,
        diff_text: str,
        head_repo: str | None = None,
        base_ref: str = "main",
        head_ref: str = "feature",
        title: str = "A change",
        body: str = "",
        draft: bool = False,
        author: str = "octocat",
        diff_too_large: bool = False,
    ) -> dict[str, Any]:
        """Seed pull request ``number`` of ``repo`` (added if missing); ``head_repo`` names a fork (added too).

        ``diff_too_large`` makes the diff media type answer GitHub's 406 for a diff over 300 files, as for a huge PR.
        """
        with self.lock:
            base_repo = self.repos.get(repo) or self.add_repo(repo)
            head_name = head_repo or repo
            head_json = self.repos.get(head_name) or self.add_repo(head_name)
            if head_name != repo:
                head_json["fork"] = True
            data = github_shapes.retarget(github_shapes.example("pulls/get", "200"), self.base_url, repo)
            data = github_shapes.renumber(data, 1347, number) | {
                "id": next(self.ids),
                "number": number,
                "state": "open",
                "locked": False,
                "title": title,
                "body": body,
                "draft": draft,
                "user": self.user(author),
                "head": github_shapes.branch_ref(self.base_url, head_json, head_ref, head_sha),
                "base": github_shapes.branch_ref(self.base_url, base_repo, base_ref, base_sha),
                "merged": False,
                "merged_at": None,
                "closed_at": None,
                "merge_commit_sha": None,
                "requested_teams": [],  # the official example's team lacks ``type``, which its own schema requires
            }
            pull = PullState(repo, number, data, diff_text, parse_diff(diff_text), diff_too_large=diff_too_large)
            self.pulls[(repo, number)] = pull
            return data

    def push(self, repo: str, number: int, *, head_sha: str, diff_text: str) -> None:
        """Move the PR head: existing review comments become outdated (``line: null``), as on GitHub."""
        with self.lock:
            pull = self.pulls[(repo, number)]
            pull.data["head"]["sha"] = head_sha
            pull.data["updated_at"] = github_http.now()  # as on GitHub, a push updates the pull request
            pull.diff, pull.files = diff_text, parse_diff(diff_text)
            for comment in pull.review_comments:
                comment["line"] = comment["start_line"] = comment["position"] = None

    def add_issue_comment(
        self, repo: str, number: int, body: str, author: str = "github-actions[bot]"
    ) -> dict[str, Any]:
        """An existing conversation comment on the PR, e.g. one a previous Guardrail run left."""
        with self.lock:
            return github_pulls.new_issue_comment(self, self.pulls[(repo, number)], body, author)

    def set_permission(self, repo: str, user: str, permission: str) -> None:
        with self.lock:
            self.permissions[(repo, user)] = permission

    def add_installation(self, installation_id: int, repo: str, *, app_id: int = 1) -> None:
        """A GitHub App installation on ``repo``; its access tokens are granted ``write``."""
        with self.lock:
            self.installations[installation_id] = {"repo": repo, "app_id": app_id}

    # ---- fault injection ---------------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path_glob: str,
        status: int,
        *,
        headers: dict[str, str] | None = None,
        body: Any = None,
        times: int = 1,
        apply: bool = False,
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` and ``path_glob`` with ``status``.

        ``path_glob`` is an fnmatch pattern over the URL path without the query, e.g. ``"/repos/*/pulls/7/reviews"``.
        ``body`` is sent as JSON (None: an empty body); ``headers`` override the usual ones (``retry-after``, ...).

        ``apply=True`` handles the request first (state changes) and then answers with the failure: a write that
        landed although the client saw an error, as after a 502 from GitHub's front end.
        """
        with self.lock:
            fault = Fault(method.upper(), path_glob, status, headers or {}, body, apply, times)
            self._faults.append(fault)

    def fail_secondary_rate_limit(self, method: str, path_glob: str, *, retry_after: int = 1, times: int = 1) -> None:
        body = {"message": SECONDARY_RATE_LIMIT_MESSAGE, "documentation_url": _RATE_LIMIT_DOCS, "status": "403"}
        self.fail_next(method, path_glob, 403, headers={"retry-after": str(retry_after)}, body=body, times=times)

    def fail_primary_rate_limit(
        self, method: str, path_glob: str, *, reset_in: int = 30, status: int = 403, times: int = 1
    ) -> None:
        reset = int(time.time()) + reset_in
        message = "API rate limit exceeded for installation ID 5425010."
        body = {"message": message, "documentation_url": _RATE_LIMIT_DOCS, "status": str(status)}
        headers = {
            "x-ratelimit-remaining": "0",
            "x-ratelimit-used": str(RATE_LIMIT_LIMIT),
            "x-ratelimit-reset": str(reset),
        }
        self.fail_next(method, path_glob, status, headers=headers, body=body, times=times)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self._faults:
                if fault.method == method and fnmatch.fnmatchcase(path, fault.path_glob):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # ---- inspection --------------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self.lock:
            self._requests.clear()

    def requests_to(self, method: str, path_glob: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method.upper() and fnmatch.fnmatchcase(r.path, path_glob)]

    def reviews(self, repo: str, number: int) -> list[dict[str, Any]]:
        """Reviews on the PR, each with ``comments``: its review comments as GitHub lists them."""
        with self.lock:
            pull = self.pulls[(repo, number)]
            return [
                review | {"comments": [c for c in pull.review_comments if c["pull_request_review_id"] == review["id"]]}
                for review in pull.reviews
            ]

    def issue_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.pulls[(repo, number)].issue_comments)

    def check_runs(self, repo: str) -> list[dict[str, Any]]:
        """Check runs of ``repo``, each with ``annotations``: every annotation sent, accumulated over PATCHes."""
        with self.lock:
            runs = [r for r in self.check_runs_by_id.values() if r["url"].split("/repos/")[1].startswith(repo + "/")]
            return [run | {"annotations": list(self.annotations[run["id"]])} for run in runs]

    def statuses(self, repo: str, sha: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.statuses_by_sha.get((repo, sha), []))

    # ---- request handling --------------------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self._finish(request, None, github_http.Reply(400, {"message": "Problems parsing JSON"}))
        reply = github_routes.handle(self, request, body, self._take_fault)
        return self._finish(request, body, reply)

    def _finish(self, request: Request, body: Any, reply: github_http.Reply) -> Response:
        token = self.tokens.get(github_routes.bearer(request))
        with self.lock:
            if token is not None and request.url.path != "/rate_limit":
                token.used += 1
            used = token.used if token else 0
            self._requests.append(
                RecordedRequest(
                    request.method,
                    request.url.path,
                    dict(request.query_params),
                    {k.lower(): v for k, v in request.headers.items()},
                    body,
                    reply.status,
                )
            )
        headers = github_shapes.recorded_static_headers() | {
            "x-github-request-id": f"{0xFA4E:04X}:{len(self._requests):05X}:{used:07X}:0000000:00000000",
            "x-ratelimit-limit": str(RATE_LIMIT_LIMIT),
            "x-ratelimit-remaining": str(max(RATE_LIMIT_LIMIT - used, 0)),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(self.rate_limit_reset),
            "x-ratelimit-resource": "core",
        }
        headers |= reply.headers
        if isinstance(reply.body, str):
            return Response(reply.body, reply.status, headers=headers)
        content = b"" if reply.body is None else json.dumps(reply.body).encode()
        return Response(content, reply.status, headers=headers)


_RATE_LIMIT_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
