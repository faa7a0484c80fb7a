#!/usr/bin/env bash
# The Guardrail demo, from a fresh clone: set up .venv with the embedded model (llama-cpp-python + SmolLM2-135M;
# the first run builds llama.cpp from source, 5 to 10 minutes on 2 cores), build a small repository whose PR
# introduces an off-by-one its tests catch, and run `guardrail review` on it with the default policy (the embedded
# model, local only). Idempotent: .venv is reused and the demo repository is rebuilt under examples/demo/work/.
#
#   bash examples/demo/run.sh            # markdown: what would be posted, and how it was decided
#   bash examples/demo/run.sh --json     # the outcome as JSON
#   bash examples/demo/run.sh --purpose patch
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

work="$root/examples/demo/work"
mkdir -p "$work"

# scripts/setup.sh creates or reuses .venv and builds llama-cpp-python with portable CPU flags (CMAKE_ARGS).
echo "== setup: .venv with the embedded model (the first run builds llama.cpp: 5 to 10 minutes) ==" >&2
if ! GUARDRAIL_EXTRAS="${GUARDRAIL_EXTRAS:-local}" bash scripts/setup.sh >"$work/setup.log" 2>&1; then
  cat "$work/setup.log" >&2
  echo "demo: setup failed (log above, also in $work/setup.log)" >&2
  exit 1
fi
.venv/bin/python examples/demo/make_demo.py "$work/repo" --force >/dev/null
# The gates run the demo's own tests with `python -m pytest`: use this virtualenv's Python, which has pytest.
export PATH="$root/.venv/bin:$PATH"

echo "== the pull request (main..pr) ==" >&2
git -C "$work/repo" --no-pager log --oneline main..pr >&2
git -C "$work/repo" --no-pager diff --stat main...pr >&2
echo "== guardrail review (embedded model; progress on stderr) ==" >&2
guardrail review --repo "$work/repo" --base main --head pr --audit-db "$work/audit.sqlite3" "$@"
echo "== guardrail log --limit 1 (the audit record of that run) ==" >&2
guardrail log --limit 1 --audit-db "$work/audit.sqlite3"

# What a suggestion that does fix the bug goes through: the same gates, on a hand-written patch (the PR reverted).
git -C "$work/repo" diff pr main -- mathkit/core.py >"$work/fix.patch"
echo "== guardrail gate on a hand-written fix (the gates a passing suggestion goes through) ==" >&2
guardrail gate --repo "$work/repo" --base main --head pr --patch "$work/fix.patch" || echo "(the fix was rejected)" >&2
