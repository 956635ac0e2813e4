#!/usr/bin/env bash
# Wheels for the GPU machine of the `device` tool (its image has torch, numpy, pillow, safetensors, httpx, uvloop,
# prometheus-client and pytest, not the web stack nor zlib-ng): the serving packages missing there, at the versions of this
# checkout's .venv, into .whl/ (git-ignored). Then `scripts/gpu_check.sh` runs there with `.whl` carried.
#
#   bash scripts/gpu_wheels.sh      # here, once per session (needs PyPI)
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
NAMES="fastapi starlette pydantic pydantic-core pydantic-settings python-dotenv annotated-types typing-inspection
uvicorn httptools python-multipart limits deprecated fastapi-offline opentelemetry-api zlib-ng"
rm -rf .whl && mkdir -p .whl
for name in $NAMES; do
    version=$(.venv/bin/python -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p' || true)
    [ -n "$version" ] || { echo "$name is not in .venv (make install-dev first)" >&2; exit 1; }
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "$name==$version"
done
du -sh .whl
