"""The fake GitHub must keep answering like the recordings in tests/data/github/, or every GitHub test here lies.

Each response body the fake gives is validated against GitHub's official response schema for that operation and
status (rest-subset.json); its headers are compared with the header names of the real recorded exchanges
(http-fixtures/). The webhook payloads the Action tests feed in are pinned to their octokit schemas.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from tests.fakes import github_shapes
from tests.fakes.github_server import FakeGitHub

SHARED = github_shapes.GITHUB_DATA
REPO = "acme/widgets"
HEAD = "b" * 40
DIFF = """diff --git a/pkg/mod.py b/pkg/mod.py
index 1111111..2222222 100644
--- a/pkg/mod.py
+++ b/pkg/mod.py
@@ -1,4 +1,5 @@
 import os
-x = 1
+x = 2
+y = 3
 print(x)
 print(os.sep)
diff --git a/docs/new.md b/docs/new.md
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/docs/new.md
@@ -0,0 +1,2 @@
+# New
+text
"""
# Recorded headers that describe one recording, not the API: transport/caching and classic-OAuth-scope headers.
NOT_CONTRACT = {"connection", "content-length", "date", "etag", "last-modified", "cache-control", "location"}
NOT_CONTRACT |= {"x-oauth-scopes", "x-accepted-oauth-scopes", "link", "vary"}


def _openapi_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` is not JSON Schema; spell it as an extra ``null`` type (and enum value)."""
    if isinstance(node, list):
        return [_openapi_to_jsonschema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _openapi_to_jsonschema(v) for k, v in node.items()}
    if out.pop("nullable", False) is True:
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        elif "type" not in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _schema_errors(operation_id: str, status: int, body: Any) -> list[str]:
    schema = github_shapes.response_schema(operation_id, str(status))
    assert schema is not None, f"rest-subset.json has no JSON schema for {operation_id} {status}"
    root = {"allOf": [_openapi_to_jsonschema(schema)]}
    root["components"] = _openapi_to_jsonschema(github_shapes.rest_subset()["components"])
    validator = jsonschema.Draft4Validator(root)
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(body)]


@pytest.fixture(scope="module")
def seeded() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        fake.add_pull(REPO, 7, base_sha="a" * 40, head_sha=HEAD, diff_text=DIFF, title="Widget fix")
        fake.add_pull(REPO, 8, base_sha="a" * 40, head_sha="c" * 40, diff_text=DIFF, head_repo="forker/widgets")
        fake.add_pull(REPO, 9, base_sha="a" * 40, head_sha="d" * 40, diff_text=DIFF, diff_too_large=True)
        fake.grant("read-only", "read")
        fake.add_installation(42, REPO, app_id=9)
        yield fake


def _client(fake: FakeGitHub, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"token {token or fake.token}", "Accept": "application/vnd.github+json"}
    return httpx.Client(base_url=fake.base_url, headers=headers)


def _annotation(n: int) -> dict[str, Any]:
    return {"path": "pkg/mod.py", "start_line": n, "end_line": n, "annotation_level": "warning", "message": f"m{n}"}


def _exchanges(fake: FakeGitHub) -> Iterator[tuple[str, httpx.Response]]:
    """Every operation and status the fake implements, as (operationId, response)."""
    with _client(fake) as gh, _client(fake, "read-only") as ro:
        yield "repos/get", gh.get(f"/repos/{REPO}")
        yield "repos/get", gh.get("/repos/acme/missing")
        yield "pulls/get", gh.get(f"/repos/{REPO}/pulls/7")
        yield "pulls/get", gh.get(f"/repos/{REPO}/pulls/8")
        yield "pulls/get", gh.get(f"/repos/{REPO}/pulls/99")
        yield "pulls/get", gh.get(f"/repos/{REPO}/pulls/9", headers={"Accept": "application/vnd.github.diff"})
        yield "pulls/list-files", gh.get(f"/repos/{REPO}/pulls/7/files")
        created = gh.post(f"/repos/{REPO}/issues/7/comments", json={"body": "first"})
        yield "issues/create-comment", created
        yield "issues/create-comment", gh.post(f"/repos/{REPO}/issues/7/comments", json={"body": "x" * 65537})
        yield "issues/create-comment", gh.post(f"/repos/{REPO}/issues/99/comments", json={"body": "x"})
        yield "issues/create-comment", ro.post(f"/repos/{REPO}/issues/7/comments", json={"body": "x"})
        comment_url = f"/repos/{REPO}/issues/comments/{created.json()['id']}"
        yield "issues/update-comment", gh.patch(comment_url, json={"body": "second"})
        yield "issues/update-comment", gh.patch(comment_url, json={"body": "x" * 65537})
        yield "issues/list-comments", gh.get(f"/repos/{REPO}/issues/7/comments")
        inline = [{"path": "pkg/mod.py", "line": 3, "start_line": 2, "side": "RIGHT", "body": "Use a constant."}]
        review = {"commit_id": HEAD, "body": "Guardrail", "event": "COMMENT", "comments": inline}
        yield "pulls/create-review", gh.post(f"/repos/{REPO}/pulls/7/reviews", json=review)
        outside = review | {"comments": [{"path": "pkg/mod.py", "line": 40, "body": "?"}]}
        yield "pulls/create-review", gh.post(f"/repos/{REPO}/pulls/7/reviews", json=outside)
        yield "pulls/create-review", ro.post(f"/repos/{REPO}/pulls/7/reviews", json=review)
        yield "pulls/list-reviews", gh.get(f"/repos/{REPO}/pulls/7/reviews")
        yield "pulls/list-review-comments", gh.get(f"/repos/{REPO}/pulls/7/comments")
        output = {"title": "Guardrail", "summary": "2 findings", "annotations": [_annotation(1)]}
        run = gh.post(f"/repos/{REPO}/check-runs", json={"name": "guardrail", "head_sha": HEAD, "output": output})
        yield "checks/create", run
        patch = {"conclusion": "failure", "output": output | {"annotations": [_annotation(2)]}}
        yield "checks/update", gh.patch(f"/repos/{REPO}/check-runs/{run.json()['id']}", json=patch)
        yield "checks/list-for-ref", gh.get(f"/repos/{REPO}/commits/{HEAD}/check-runs?check_name=guardrail")
        yield "checks/list-annotations", gh.get(f"/repos/{REPO}/check-runs/{run.json()['id']}/annotations")
        status = {"state": "success", "context": "guardrail", "description": "ok"}
        yield "repos/create-commit-status", gh.post(f"/repos/{REPO}/statuses/{HEAD}", json=status)
        yield "rate-limit/get", gh.get("/rate_limit")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    app_jwt = jwt.encode({"iss": "9", "iat": int(time.time()) - 60, "exp": int(time.time()) + 300}, key, "RS256")
    with httpx.Client(base_url=fake.base_url, headers={"Authorization": f"Bearer {app_jwt}"}) as app:
        yield "apps/create-installation-access-token", app.post("/app/installations/42/access_tokens", json={})
        yield "apps/get-repo-installation", app.get(f"/repos/{REPO}/installation")


@pytest.fixture(scope="module")
def exchanges(seeded: FakeGitHub) -> list[tuple[str, httpx.Response]]:
    return list(_exchanges(seeded))


def test_every_fake_response_matches_githubs_response_schema(exchanges: list[tuple[str, httpx.Response]]) -> None:
    statuses = {(op, r.status_code) for op, r in exchanges}
    # The scenario reaches the success and the documented error statuses the reporters have to handle.
    assert {("pulls/create-review", 200), ("pulls/create-review", 422), ("pulls/create-review", 403)} <= statuses
    assert {("issues/create-comment", 201), ("issues/create-comment", 422), ("pulls/get", 404)} <= statuses
    assert ("pulls/get", 406) in statuses
    for op, response in exchanges:
        errors = _schema_errors(op, response.status_code, response.json())
        assert errors == [], f"{response.request.method} {response.request.url.path} -> {response.status_code}"


def _recorded_header_names() -> set[str]:
    recorded = [e for p in (SHARED / "http-fixtures").glob("*.json") for e in json.loads(p.read_text())]
    assert len(recorded) >= 7
    return set.intersection(*({k.lower() for k in e["headers"]} for e in recorded)) - NOT_CONTRACT


def test_fake_sends_the_headers_every_recorded_github_response_has(exchanges: list[tuple[str, httpx.Response]]) -> None:
    expected = _recorded_header_names()
    assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-github-request-id"} <= expected
    for _, response in exchanges:
        assert expected <= set(response.headers), expected - set(response.headers)
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        assert response.headers["x-github-media-type"] == "github.v3; format=json"
        assert int(response.headers["x-ratelimit-remaining"]) + int(response.headers["x-ratelimit-used"]) == int(
            response.headers["x-ratelimit-limit"]
        )


def test_no_response_points_outside_the_fake(seeded: FakeGitHub, exchanges: list[tuple[str, httpx.Response]]) -> None:
    """PyGithub asserts that every URL it follows stays on its base URL (FACTS.md §6)."""
    for _, response in exchanges:
        assert "api.github.com" not in response.text
    pull = exchanges[2][1].json()
    assert pull["url"] == f"{seeded.base_url}/repos/{REPO}/pulls/7"
    assert pull["head"]["sha"] == HEAD and pull["head"]["repo"]["full_name"] == REPO


def test_link_header_has_the_recorded_shape(seeded: FakeGitHub) -> None:
    recorded = json.loads((SHARED / "http-fixtures/paginate-issues.json").read_text())[1]["headers"]["link"]
    shape = re.compile(r'<[^>]+[?&]page=\d+[^>]*>; rel="(prev|next|last|first)"')
    assert [m[1] for m in shape.finditer(recorded)] == ["prev", "next", "last", "first"]
    with _client(seeded) as gh:
        for n in range(5):
            gh.post(f"/repos/{REPO}/issues/8/comments", json={"body": f"c{n}"})
        page2 = gh.get(f"/repos/{REPO}/issues/8/comments", params={"per_page": 2, "page": 2})
    assert [m[1] for m in shape.finditer(page2.headers["link"])] == ["prev", "next", "last", "first"]
    assert [c["body"] for c in page2.json()] == ["c2", "c3"]


def test_diff_media_type_returns_the_seeded_diff(seeded: FakeGitHub) -> None:
    with _client(seeded) as gh:
        response = gh.get(f"/repos/{REPO}/pulls/7", headers={"Accept": "application/vnd.github.diff"})
    assert response.status_code == 200
    assert response.text == DIFF
    assert response.headers["content-type"].startswith("application/vnd.github.diff")


def _webhook_registry() -> Registry:
    schemas = SHARED / "webhook-schemas"
    resources = [
        (path.relative_to(schemas).as_posix(), Resource.from_contents(json.loads(path.read_text()), DRAFT7))
        for path in schemas.glob("*/*.schema.json")
    ]
    return Registry().with_resources(resources)


@pytest.mark.parametrize("payload", sorted((SHARED / "webhooks/pull_request").glob("*.json")), ids=lambda p: p.name)
def test_pull_request_webhook_payloads_match_their_octokit_schema(payload: Path) -> None:
    action = payload.name.split(".")[0]
    schema = json.loads((SHARED / f"webhook-schemas/pull_request/{action}.schema.json").read_text())
    data = json.loads(payload.read_text())
    validator = jsonschema.Draft7Validator(schema, registry=_webhook_registry())
    assert [e.message for e in validator.iter_errors(data)] == []
    assert data["action"] == action and data["pull_request"]["head"]["sha"]


def test_push_makes_earlier_review_comments_outdated() -> None:
    with FakeGitHub() as fake, _client(fake) as gh:
        fake.add_pull(REPO, 7, base_sha="a" * 40, head_sha=HEAD, diff_text=DIFF)
        inline = [{"path": "pkg/mod.py", "line": 2, "side": "RIGHT", "body": "old"}]
        gh.post(f"/repos/{REPO}/pulls/7/reviews", json={"body": "r", "event": "COMMENT", "comments": inline})
        fake.push(REPO, 7, head_sha="e" * 40, diff_text=DIFF)
        (comment,) = gh.get(f"/repos/{REPO}/pulls/7/comments").json()
        assert (comment["line"], comment["original_line"], comment["commit_id"]) == (None, 2, HEAD)
        assert gh.get(f"/repos/{REPO}/pulls/7").json()["head"]["sha"] == "e" * 40
