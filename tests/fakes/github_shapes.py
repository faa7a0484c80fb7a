"""Response shapes for the fake GitHub, built from the recorded examples in tests/data/github/, never from memory.

``rest-subset.json`` holds GitHub's official OpenAPI example for each operation and status; ``http-fixtures/`` holds
real recorded exchanges with their response headers. Every builder here starts from one of those and overlays the
fake's state (ids, bodies, SHAs, users, repository names), then points every URL at the fake so PyGithub, which follows
the ``url`` fields and asserts they stay on its base URL, keeps talking to the fake (FACTS.md §6).
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

# The recorded GitHub data lives in the repository (tests/data/github/PROVENANCE.md says where each file came from),
# so the suite passes in a fresh clone with nothing beside it.
GITHUB_DATA = Path(__file__).resolve().parents[1] / "data" / "github"

# Names of repositories and hosts used in the official examples; the fake swaps in its own.
_EXAMPLE_REPOS = ("octocat/Hello-World", "github/hello-world", "github/rest-api-description")
_API = "https://api.github.com"

# Recorded response headers that describe the recording rather than the API contract: transport and caching
# headers (uvicorn sets its own date and content-length), and OAuth-scope headers, which GitHub sends only for
# classic OAuth tokens, never for the installation tokens and GITHUB_TOKEN Guardrail uses.
VOLATILE_HEADERS = frozenset(
    {"connection", "content-length", "date", "etag", "last-modified", "cache-control", "location", "link", "vary"}
    | {"x-oauth-scopes", "x-accepted-oauth-scopes", "x-github-sso", "x-poll-interval"}
)


@lru_cache(maxsize=1)
def rest_subset() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GITHUB_DATA / "rest-subset.json").read_text())
    return data


@cache
def _operation(operation_id: str) -> dict[str, Any]:
    for op in rest_subset()["operations"]:
        if op["operationId"] == operation_id:
            return dict(op)
    raise KeyError(f"{operation_id!r} is not in {GITHUB_DATA / 'rest-subset.json'}")


def example(operation_id: str, status: str) -> Any:
    """A fresh copy of GitHub's official example response for ``operation_id`` and ``status``."""
    content = _operation(operation_id)["responses"][status]["content"]["application/json"]
    return copy.deepcopy(content["example"])


def response_schema(operation_id: str, status: str) -> dict[str, Any] | None:
    content = (_operation(operation_id)["responses"].get(status) or {}).get("content") or {}
    schema = (content.get("application/json") or {}).get("schema")
    return schema if isinstance(schema, dict) else None


def documentation_url(operation_id: str) -> str:
    return str(_operation(operation_id)["documentation_url"])


@lru_cache(maxsize=1)
def http_fixtures() -> dict[str, list[dict[str, Any]]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((GITHUB_DATA / "http-fixtures").glob("*.json"))}


@lru_cache(maxsize=1)
def recorded_static_headers() -> dict[str, str]:
    """Headers every recorded api.github.com response carries, with their recorded values (rate limits excluded)."""
    exchanges = [e for entries in http_fixtures().values() for e in entries]
    common = set.intersection(*({k.lower() for k in e["headers"]} for e in exchanges))
    first = {k.lower(): str(v) for k, v in exchanges[0]["headers"].items()}
    return {name: first[name] for name in sorted(common - VOLATILE_HEADERS) if not name.startswith("x-ratelimit-")} | {
        "x-github-media-type": "github.v3; format=json"
    }


def retarget(obj: Any, base_url: str, repo: str) -> Any:
    """``obj`` with the example repositories renamed to ``repo`` and every API URL pointing at ``base_url``."""
    text = json.dumps(obj)
    for name in _EXAMPLE_REPOS:
        for before, after in ((f"/{name}", f"/{repo}"), (f":{name}.git", f":{repo}.git"), (f'"{name}"', f'"{repo}"')):
            text = text.replace(before, after)
    return json.loads(text.replace(_API, base_url))


def user(base_url: str, login: str, user_id: int, kind: str = "User") -> dict[str, Any]:
    """A ``simple-user`` object for ``login``, from the user in the ``pulls/get`` example."""
    text = json.dumps(example("pulls/get", "200")["user"]).replace("octocat", login)
    data: dict[str, Any] = json.loads(text.replace(_API, base_url))
    return data | {"login": login, "id": user_id, "type": kind, "site_admin": False}


def repository(base_url: str, full_name: str, repo_id: int, owner: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A ``full-repository`` object (``repos/get``) for ``full_name``."""
    data = retarget(example("repos/get", "200"), base_url, full_name)
    for key in ("source", "parent", "template_repository", "organization"):
        data.pop(key, None)  # a plain repository has none of these
    # The official example omits ``language``, which its own schema requires; a real repository always has the key.
    return data | {
        "id": repo_id,
        "name": full_name.split("/")[1],
        "full_name": full_name,
        "owner": owner,
        "language": "Python",
        **fields,
    }


def branch_ref(base_url: str, repo_json: dict[str, Any], ref: str, sha: str) -> dict[str, Any]:
    """The ``head``/``base`` object of a pull request, its ``repo`` built from the ``pulls/get`` example's."""
    full_name = repo_json["full_name"]
    head = retarget(example("pulls/get", "200")["head"], base_url, full_name)
    head["repo"] |= {
        "id": repo_json["id"],
        "name": repo_json["name"],
        "full_name": full_name,
        "owner": repo_json["owner"],
        "fork": repo_json.get("fork", False),
    }
    return head | {"label": f"{full_name.split('/')[0]}:{ref}", "ref": ref, "sha": sha, "user": repo_json["owner"]}


def error_body(message: str, operation_id: str, status: int, errors: list[Any] | None = None) -> dict[str, Any]:
    """GitHub's error body: ``basic-error`` (message, documentation_url, status) or ``validation-error`` with errors."""
    body: dict[str, Any] = {"message": message}
    if errors is not None:
        body["errors"] = errors
    return body | {"documentation_url": documentation_url(operation_id), "status": str(status)}


def renumber(obj: Any, old: int, new: int) -> Any:
    """``obj`` with the example's pull request / issue number ``old`` in every URL replaced by ``new``."""
    pattern = re.compile(rf"/(pulls|issues|pull)/{old}(?=[\"/#?.])")
    return json.loads(pattern.sub(lambda m: f"/{m[1]}/{new}", json.dumps(obj)))
