"""The demo pull request (``examples/demo/make_demo.py``) as a test fixture, and model replies about it.

The demo's ``main`` passes its three tests; its ``pr`` branch rewrites ``factorial`` with ``range(1, n)``, so
``tests/test_mathkit.py::test_factorial`` fails at the head. The replies below are what a model might answer:
a fix (passes every gate: no new failure, one fixed), a patch that breaks ``mean`` (a new failure: the tests gate
rejects it), a review comment with the fix as a suggestion, a review comment with no code.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MAKE_DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo" / "make_demo.py"
CORE = "mathkit/core.py"
LOOP_LINE = 9  # "    for i in range(1, n):" at the PR head

GOOD_PATCH = """The loop stops one short of n.

mathkit/core.py
<<<<<<< SEARCH
    for i in range(1, n):
=======
    for i in range(1, n + 1):
>>>>>>> REPLACE
"""

BAD_PATCH = """Simplified mean.

mathkit/core.py
<<<<<<< SEARCH
    return sum(values) / len(values)
=======
    return sum(values) / (len(values) + 1)
>>>>>>> REPLACE
"""

REVIEW_WITH_FIX = """```json
[{"path": "mathkit/core.py", "line": 9, "body": "Off by one: range(1, n) stops before n, so factorial(5) is 24.",
  "suggestion": "    for i in range(1, n + 1):"}]
```"""

REVIEW_TEXT_ONLY = """```json
[{"path": "mathkit/core.py", "line": 9, "body": "range(1, n) leaves n out of the product."}]
```"""

NOT_PARSEABLE = "Looks good to me! Nice refactoring."


def build_demo(dest: Path) -> Path:
    """Run the demo builder the way a user does; the repository is at ``dest``."""
    subprocess.run([sys.executable, str(MAKE_DEMO), str(dest)], check=True, capture_output=True)
    return dest


def admin_policy(path: Path, local_url: str, cloud_url: str, *, extra: str = "", local_backend: str = "ollama") -> Path:
    """An admin policy with one local model (``coder-local``) and one cloud model (``coder-cloud``) for both
    purposes; ``acme/secret`` is local-only. ``extra`` is appended (more top-level YAML)."""
    path.write_text(
        f"""\
models:
  coder-local: {{backend: {local_backend}, url: "{local_url}", model: qwen2.5-coder, location: local,
                timeout: 30, retries: 0}}
  coder-cloud: {{backend: anthropic, url: "{cloud_url}", model: claude-sonnet, location: cloud,
                api_key_env: ANTHROPIC_API_KEY, timeout: 30, retries: 0}}
purposes:
  review: {{allow: [coder-local, coder-cloud]}}
  patch: {{allow: [coder-local, coder-cloud]}}
repos:
  "acme/secret": {{local_only: true}}
{extra}""",
        encoding="utf-8",
    )
    return path


def commit_file(repo: Path, branch: str, rel: str, text: str) -> None:
    """Commit ``rel`` with ``text`` on ``branch`` of the demo repository (``main`` is the PR's base)."""
    identity = ["-c", "user.name=Test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false"]

    def git(*args: str) -> None:
        subprocess.run(["git", *identity, *args], cwd=repo, check=True, capture_output=True)

    git("checkout", "-q", branch)
    (repo / rel).parent.mkdir(parents=True, exist_ok=True)
    (repo / rel).write_text(text, encoding="utf-8")
    git("add", rel)
    git("commit", "-q", "-m", f"change {rel}")
    git("checkout", "-q", "main")
