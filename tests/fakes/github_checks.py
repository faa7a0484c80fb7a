"""Fake GitHub endpoints for check runs and their annotations, commit statuses, permissions, rate limit and Apps."""

from __future__ import annotations

import time
from typing import Any

from . import github_shapes as shapes
from .github_http import MAX_ANNOTATIONS, MAX_OUTPUT_CHARS, Call, Reply, now, paginate

_CONCLUSIONS = ("action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out")
_ANNOTATION_KEYS = ("path", "start_line", "end_line", "annotation_level", "message")


def _output_problem(output: Any) -> str | None:
    """Why GitHub would refuse this ``output`` object (checks/create request schema), or None."""
    if output is None:
        return None
    if not isinstance(output, dict) or not isinstance(output.get("summary"), str):
        return "For 'properties/output', \"summary\" wasn't supplied."
    for key in ("summary", "text"):
        if len(output.get(key) or "") > MAX_OUTPUT_CHARS:
            return f"For 'properties/{key}', the string is too long (maximum is {MAX_OUTPUT_CHARS} characters)."
    annotations = output.get("annotations") or []
    if len(annotations) > MAX_ANNOTATIONS:
        return f"For 'properties/annotations', {len(annotations)} items is too many (maximum is {MAX_ANNOTATIONS})."
    for annotation in annotations:
        missing = [k for k in _ANNOTATION_KEYS if k not in annotation]
        if missing:
            return f"For 'items', \"{missing[0]}\" wasn't supplied."
        if annotation["annotation_level"] not in ("notice", "warning", "failure"):
            return f"For 'properties/annotation_level', {annotation['annotation_level']!r} is not a member of the enum."
    return None


def _annotation(call: Call, head_sha: str, sent: dict[str, Any]) -> dict[str, Any]:
    template = shapes.example("checks/list-annotations", "200")[0]
    blob = f"https://github.com/{call.repo}/blob/{head_sha}/{sent['path']}"
    return (
        template
        | {"start_column": None, "end_column": None, "title": None, "raw_details": None}
        | {k: sent[k] for k in (*_ANNOTATION_KEYS, "start_column", "end_column", "title", "raw_details") if k in sent}
        | {"blob_href": blob}
    )


def _apply(call: Call, run: dict[str, Any]) -> Reply | None:
    """Apply a create/update body to ``run``: status, conclusion, output; append its annotations."""
    body = call.json
    if problem := _output_problem(body.get("output")):
        return call.invalid(problem)
    conclusion = body.get("conclusion")
    if conclusion is not None and conclusion not in _CONCLUSIONS:
        return call.invalid(f"For 'properties/conclusion', {conclusion!r} is not a member of the enum.")
    for key in ("name", "details_url", "external_id", "started_at"):
        if key in body:
            run[key] = body[key]
    if conclusion is not None:
        run |= {"status": "completed", "conclusion": conclusion, "completed_at": body.get("completed_at") or now()}
    elif "status" in body:
        run["status"] = body["status"]
    output = body.get("output")
    if output:
        added = [_annotation(call, run["head_sha"], a) for a in output.get("annotations") or []]
        call.fake.annotations[run["id"]].extend(added)
        run["output"] |= {k: output.get(k) for k in ("title", "summary", "text")}
        run["output"]["annotations_count"] = len(call.fake.annotations[run["id"]])
    return None


def create_check_run(call: Call) -> Reply:
    if call.fake.repos.get(call.repo) is None:
        return call.not_found()
    body = call.json
    for key in ("name", "head_sha"):
        if not isinstance(body.get(key), str):
            return call.invalid(f'"{key}" wasn\'t supplied.')
    run_id = next(call.fake.ids)
    run = shapes.retarget(shapes.example("checks/create", "201"), call.fake.base_url, call.repo)
    url = f"{call.fake.base_url}/repos/{call.repo}/check-runs/{run_id}"
    run |= {
        "id": run_id,
        "node_id": f"CR_fake{run_id}",
        "head_sha": body["head_sha"],
        "name": body["name"],
        "external_id": "",
        "url": url,
        "html_url": f"https://github.com/{call.repo}/runs/{run_id}",
        "details_url": None,
        "status": "queued",
        "conclusion": None,
        "started_at": now(),
        "completed_at": None,
        "output": {"title": None, "summary": None, "text": None, "annotations_count": 0},
        "pull_requests": _pull_requests(call, body["head_sha"]),
    }
    run["output"]["annotations_url"] = f"{url}/annotations"
    call.fake.annotations[run_id] = []
    if refused := _apply(call, run):
        return refused
    call.fake.check_runs_by_id[run_id] = run
    return Reply(201, run)


def _pull_requests(call: Call, sha: str) -> list[dict[str, Any]]:
    """``pull-request-minimal`` for open same-repository PRs at ``sha``; fork PRs are not listed (FACTS §5)."""
    found = []
    for (repo, _), pull in call.fake.pulls.items():
        head, base = pull.data["head"], pull.data["base"]
        if repo == call.repo and head["sha"] == sha and head["repo"]["full_name"] == repo:
            minimal = {
                name: {
                    "ref": side["ref"],
                    "sha": side["sha"],
                    "repo": {k: side["repo"][k] for k in ("id", "url", "name")},
                }
                for name, side in (("head", head), ("base", base))
            }
            found.append({"url": pull.data["url"], "id": pull.data["id"], "number": pull.number, **minimal})
    return found


def _run_of(call: Call) -> dict[str, Any] | None:
    run = call.fake.check_runs_by_id.get(int(call.params["check_run_id"]))
    return run if run and f"/repos/{call.repo}/" in run["url"] else None


def update_check_run(call: Call) -> Reply:
    run = _run_of(call)
    if run is None:
        return call.not_found()
    return _apply(call, run) or Reply(200, run)


def get_check_run(call: Call) -> Reply:
    run = _run_of(call)
    return Reply(200, run) if run else call.not_found()


def list_check_runs_for_ref(call: Call) -> Reply:
    ref, name = call.params["ref"], call.query.get("check_name")
    runs = [
        r
        for r in call.fake.check_runs_by_id.values()
        if f"/repos/{call.repo}/" in r["url"] and r["head_sha"] == ref and name in (None, r["name"])
    ]
    return paginate(call, sorted(runs, key=lambda r: -int(r["id"])), key="check_runs")


def list_annotations(call: Call) -> Reply:
    run = _run_of(call)
    return paginate(call, call.fake.annotations[run["id"]]) if run else call.not_found()


def create_status(call: Call) -> Reply:
    body = call.json
    if body.get("state") not in ("error", "failure", "pending", "success"):
        return call.invalid("For 'properties/state', it is not a member of the enum.")
    status_id = next(call.fake.ids)
    status = shapes.retarget(shapes.example("repos/create-commit-status", "201"), call.fake.base_url, call.repo)
    status |= {
        "id": status_id,
        "node_id": f"SC_fake{status_id}",
        "state": body["state"],
        "description": body.get("description"),
        "target_url": body.get("target_url"),
        "context": body.get("context") or "default",
        "created_at": now(),
        "updated_at": now(),
        "creator": call.fake.user(call.login),
        "url": f"{call.fake.base_url}/repos/{call.repo}/statuses/{call.params['sha']}",
    }
    call.fake.statuses_by_sha.setdefault((call.repo, call.params["sha"]), []).append(status)
    return Reply(201, status, {"location": status["url"]})


def get_permission(call: Call) -> Reply:
    repo = call.fake.repos.get(call.repo)
    if repo is None:
        return call.not_found()
    login = call.params["user"]
    # Not in rest-subset.json: shape per GitHub's "Get repository permissions for a user" docs (permission,
    # role_name, user). A non-collaborator reads a public repository, and nothing of a private one.
    permission = call.fake.permissions.get((call.repo, login), "none" if repo["private"] else "read")
    return Reply(200, {"permission": permission, "role_name": permission, "user": call.fake.user(login)})


def rate_limit(call: Call) -> Reply:
    token = call.fake.tokens.get(call.token)
    used = token.used if token else 0
    data = shapes.example("rate-limit/get", "200")
    core = {"limit": 5000, "used": used, "remaining": 5000 - used, "reset": call.fake.rate_limit_reset}
    data["resources"]["core"] = core
    data["rate"] = dict(core)
    return Reply(200, data)


def create_access_token(call: Call) -> Reply:
    installation_id = int(call.params["installation_id"])
    installation = call.fake.installations.get(installation_id)
    if installation is None:
        return call.not_found()
    token = f"ghs_fake{installation_id}x{next(call.fake.ids)}"
    call.fake.grant(token, "write", login=f"guardrail-app-{installation['app_id']}[bot]")
    data = shapes.example("apps/create-installation-access-token", "201")
    data.pop("repositories", None)
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    data |= {"token": token, "expires_at": expires, "repository_selection": "selected"}
    data["permissions"] = {"checks": "write", "contents": "read", "issues": "write", "pull_requests": "write"}
    return Reply(201, data)


def get_repo_installation(call: Call) -> Reply:
    found = [(i, inst) for i, inst in call.fake.installations.items() if inst["repo"] == call.repo]
    if not found:
        return call.not_found()
    installation_id, installation = found[0]
    data = shapes.retarget(shapes.example("apps/get-repo-installation", "200"), call.fake.base_url, call.repo)
    data |= {"id": installation_id, "app_id": installation["app_id"]}
    data["access_tokens_url"] = f"{call.fake.base_url}/app/installations/{installation_id}/access_tokens"
    data["account"] = call.fake.repos[call.repo]["owner"]
    return Reply(200, data)
