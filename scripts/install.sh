#!/usr/bin/env bash
# Installs the project into a virtual environment; the README, the Makefile and the Dockerfile all use it.
#   bash scripts/install.sh          # the service and training
#   bash scripts/install.sh --dev    # plus the test tools
# VENV picks the environment's folder (default .venv; "none" installs into the current Python).
# TORCH_INDEX_URL picks where torch comes from (e.g. https://download.pytorch.org/whl/cpu for a CPU build).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
if [ "$VENV" = none ]; then
    PY=python3
else
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    PY="$VENV/bin/python"
fi
torch_args=()
[ -n "${TORCH_INDEX_URL:-}" ] && torch_args=(--index-url "$TORCH_INDEX_URL")
# torch first, on its own: a CPU build where one is offered, so the project's pin adds nothing.
"$PY" -m pip install -q --disable-pip-version-check "${torch_args[@]}" torch==2.13.0
extra=""
[ "${1:-}" = "--dev" ] && extra="[dev]"
"$PY" -m pip install -q --disable-pip-version-check -e ".${extra}"
