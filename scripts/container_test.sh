#!/usr/bin/env bash
# `make container-test`: builds the Dockerfile for real with podman (../shared/tools/container-check) and runs
# scripts/container_checks.py against the running container, compose included. Root needed; about six
# minutes from scratch on the 2-core machine (most of it installing torch into the image).
#   CONTAINER_CHECK  the tool (default ../shared/tools/container-check)
#   CONTAINER_BUILD_ARGS  extra build arguments; default "--build-arg TORCH_INDEX_URL=": these machines reach
#                    the CPU torch wheel through pip's own settings, not through PyTorch's index
set -euo pipefail
cd "$(dirname "$0")/.."
TOOL=${CONTAINER_CHECK:-../shared/tools/container-check}
KIT=${KIT:-$HOME/.cache/container-kit}
VENV=${VENV:-.venv}
mkdir -p "$KIT"
# The tool makes its stand-in base image with mmdebstrap into a name ending in ".tmp", which mmdebstrap takes
# for a directory rather than a tarball; make the tarball here first (--format=tar) so the tool finds it.
if [ -d "$KIT/rootfs-bookworm.tar" ] || [ ! -s "$KIT/rootfs-bookworm.tar" ]; then
    if ! command -v mmdebstrap >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman buildah mmdebstrap uidmap slirp4netns runc >/dev/null
    fi
    rm -rf "$KIT/rootfs-bookworm.tar"
    mmdebstrap --variant=minbase --format=tar \
        --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates,netbase,tzdata \
        bookworm "$KIT/rootfs-bookworm.tar.new" /etc/apt/sources.list.d/debian.sources >"$KIT/mmdebstrap.log" 2>&1
    mv "$KIT/rootfs-bookworm.tar.new" "$KIT/rootfs-bookworm.tar"
fi
export KIT TAG=localhost/gan-studio:check NAME=gan-studio-check PORT=${PORT:-8799}
export BUILD_ARGS=${CONTAINER_BUILD_ARGS---build-arg TORCH_INDEX_URL=}
export CHECK_CMD="$VENV/bin/python scripts/container_checks.py"
started=$(date +%s)
bash "$TOOL" .
podman images "$TAG" --format 'image size: {{.Size}}'
echo "container test: $(( $(date +%s) - started )) s"
