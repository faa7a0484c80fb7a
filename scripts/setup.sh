#!/usr/bin/env bash
# Set up a virtualenv in .venv with Guardrail, its dev tools and the embedded model (the `local` extra).
# Idempotent: a second run reuses .venv and only installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup: Python 3.11 or newer is needed (tried '$PYTHON'); set PYTHON=/path/to/python3.11" >&2
  exit 2
fi
# The App's tests and its benchmark start a real redis-server (Debian's redis-server package) on a free port.
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing redis-server (Debian package) for the App's tests..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server) >/dev/null
  else
    echo "setup: redis-server is missing; the App's tests need it: install the redis-server package" >&2
  fi
fi

# The jail PR code runs in (checks/jail.py) is bubblewrap; prlimit (util-linux) sets its limits.
if ! command -v bwrap >/dev/null 2>&1; then
  echo "setup: installing bubblewrap (the jail the gates run PR code in)..." >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
  else
    echo "setup: bubblewrap is missing; install it (apt-get install bubblewrap) and run this again" >&2
    exit 2
  fi
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip

# A C compiler and the Python headers: the gate tests build a small C extension in place (the default setup of a
# project with one). Installed with apt-get where missing and we are root (CI's fresh machine); otherwise say so.
if ! command -v cc >/dev/null 2>&1 || ! .venv/bin/python -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq gcc python3-dev >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq gcc python3-dev >/dev/null; }
  else
    echo "setup: no C compiler or Python headers: install gcc and python3-dev for the C-extension gate tests" >&2
  fi
fi

# llama-cpp-python builds from source. A native build crashes in ggml's AMX kernel on some x86 machines
# (segfault in ggml_backend_amx_mul_mat), so build a portable AVX2 library instead.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF}"
extras="${GUARDRAIL_EXTRAS:-dev,local,app,bakeoff}"
if ! .venv/bin/python -c 'import llama_cpp' 2>/dev/null && [[ "$extras" == *local* ]]; then
  echo "setup: building llama-cpp-python from source (5 to 10 minutes on 2 cores)..." >&2
fi
.venv/bin/python -m pip install --quiet -e ".[${extras}]"
echo "setup: ready (.venv, extras: ${extras})" >&2
