"""What every endpoint of the fake GitHub shares: the call it handles, the reply it gives, pagination, error bodies.

Error bodies use GitHub's real messages where a recording or a quoted report exists (tests/data/github/FACTS.md), else
GitHub's generic ``basic-error`` form (message, documentation_url, status).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from . import github_shapes as shapes

if TYPE_CHECKING:
    from .github_server import FakeGitHub, PullState

MAX_COMMENT_CHARS = 65536  # FACTS.md §4.2, from real 422 responses
MAX_OUTPUT_CHARS = 65535  # checks/create: output.summary and output.text maxLength
MAX_ANNOTATIONS = 50  # checks/create: output.annotations maxItems
DOCS = "https://docs.github.com/rest"


@dataclass
class Reply:
    status: int
    body: Any = None  # a JSON value, or str for a raw (diff) body
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    """One routed request: ``params`` from the path, the caller's ``login``; state is ``fake``, locked by the router."""

    fake: FakeGitHub
    op: str  # operationId in rest-subset.json, for documentation_url
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    accept: str
    token: str = ""
    login: str = ""

    @property
    def repo(self) -> str:
        return f"{self.params['owner']}/{self.params['name']}"

    @property
    def json(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}

    def pull(self) -> PullState | None:
        return self.fake.pulls.get((self.repo, int(self.params["number"])))

    def error(self, status: int, message: str, errors: list[Any] | None = None) -> Reply:
        return Reply(status, shapes.error_body(message, self.op, status, errors))

    def not_found(self) -> Reply:
        return self.error(404, "Not Found")

    def invalid(self, detail: str) -> Reply:
        """GitHub's answer to a request body that breaks the endpoint's schema (the form of its 422s for checks)."""
        return self.error(422, f"Invalid request.\n\n{detail}")

    def too_long(self, resource: str, text: Any) -> Reply | None:
        """The real 422 for a body over 65,536 characters, or None."""
        if isinstance(text, str) and len(text) > MAX_COMMENT_CHARS:
            message = f"Body is too long (maximum is {MAX_COMMENT_CHARS} characters)"
            error = {"resource": resource, "code": "unprocessable", "field": "data", "message": message}
            return self.error(422, "Validation Failed", [error])
        return None


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def paginate(call: Call, items: list[Any], key: str | None = None) -> Reply:
    """One page of ``items`` with GitHub's ``Link`` header (``per_page`` default 30, max 100)."""
    per_page = min(int(call.query.get("per_page", 30)), 100)
    page = max(int(call.query.get("page", 1)), 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    chunk = items[(page - 1) * per_page : page * per_page]

    def link(n: int, rel: str) -> str:
        query = urlencode(call.query | {"per_page": per_page, "page": n})
        return f'<{call.fake.base_url}{call.path}?{query}>; rel="{rel}"'

    rels = [link(page - 1, "prev")] if page > 1 else []
    rels += [link(page + 1, "next"), link(last, "last")] if page < last else []
    rels += [link(1, "first")] if page > 1 else []
    headers = {"link": ", ".join(rels)} if rels else {}
    return Reply(200, {"total_count": len(items), key: chunk} if key else chunk, headers)
