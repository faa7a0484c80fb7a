#!/usr/bin/env bash
# Set up (see scripts/setup.sh) and run the whole test suite, slow and embedded-model tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
