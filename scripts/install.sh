#!/usr/bin/env bash
# Installs the project into a virtual environment; the README, the Makefile and the Dockerfile all use it.
#   bash scripts/install.sh             # the service (what `make serve` needs)
#   bash scripts/install.sh --train     # plus training and evaluation (scipy, tqdm; as root Debian's Fashion-MNIST
#                                       # and Noto's colour emoji, for the dataset tool's emoji source)
#   bash scripts/install.sh --ray       # plus Ray Serve (gan-serve --engine ray)
#   bash scripts/install.sh --dev       # plus training, Ray Serve and the test tools (what `make test` needs)
#   bash scripts/install.sh --deps-only # the service's dependencies alone (the Docker image's cached layer)
# VENV picks the environment's folder (default .venv; "none" installs into the current Python).
# TORCH_VARIANT=cpu (default) takes PyTorch's CPU wheel, about 750 MB installed; TORCH_VARIANT=cuda takes
# PyPI's Linux wheel, which carries CUDA (several GB, for an NVIDIA GPU). TORCH_INDEX_URL overrides where
# torch comes from; set it empty to use pip's own settings (a mirror or a local wheel folder).
# EDITABLE=0 installs a copy of the code instead of linking to this checkout (the Docker image does).
# Every install but --deps-only also installs the client, its own distribution in client/ (pip install ./client
# alone needs nothing of the server), with its numpy extra, and, where npm is, the demo page's browser runtime:
# onnxruntime-web as web/package-lock.json pins it, its WebAssembly build copied into app/static/ort (without npm the
# page draws on the server; the Docker image takes the files that an install on the host copied there).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
if [ "$VENV" = none ]; then
    PY=python3
else
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    PY="$VENV/bin/python"
fi
case "${TORCH_VARIANT:-cpu}" in
    cpu) default_index=https://download.pytorch.org/whl/cpu ;;
    cuda) default_index=https://pypi.org/simple ;;
    *) echo "TORCH_VARIANT must be cpu or cuda, not ${TORCH_VARIANT}" >&2; exit 2 ;;
esac
index=${TORCH_INDEX_URL-$default_index}
torch_args=()
[ -n "$index" ] && torch_args=(--index-url "$index")
pip=("$PY" -m pip install -q --disable-pip-version-check)
# torch first, on its own and from the variant's index, so the project's pin adds nothing.
"${pip[@]}" "${torch_args[@]}" torch==2.13.0
case "${1:-}" in
    --deps-only)
        "$PY" -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
            > /tmp/gan-studio-requirements.txt
        "${pip[@]}" -r /tmp/gan-studio-requirements.txt
        exit 0 ;;
    --dev) extra="[dev]" ;;  # dev takes train, ray and onnx along
    --ray) extra="[ray]" ;;
    --train) extra="[train]" ;;
    "") extra="" ;;
    *) echo "unknown option $1 (--train, --ray, --dev or --deps-only)" >&2; exit 2 ;;
esac
# Training's Fashion-MNIST presets read Debian's dataset-fashion-mnist, and the dataset tool's emoji source its
# fonts-noto-color-emoji and unicode-data (and their tests); the service never does.
debian=(dataset-fashion-mnist fonts-noto-color-emoji unicode-data)
if [[ "$extra" == *train* || "$extra" == *dev* ]] && { [ ! -d /usr/share/datasets/fashion-mnist ] \
        || [ ! -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || [ ! -f /usr/share/unicode/emoji/emoji-test.txt ]; }; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get install -y -qq "${debian[@]}" >/dev/null 2>&1 \
            || { apt-get update -qq && apt-get install -y -qq "${debian[@]}" >/dev/null; }
    else
        echo "note: training's data sets need 'apt-get install ${debian[*]}' (as root)" >&2
    fi
fi
# The browser runtime before the project's pip install: EDITABLE=0 copies app/, and app/static/ort with it. npm ci runs
# only when the lock file changed since it last did (each `make serve` runs this script).
ort_files=(ort.wasm.min.mjs ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm)
if command -v npm >/dev/null && [ -f web/package-lock.json ]; then
    lock=$(sha256sum web/package-lock.json | cut -d" " -f1)
    if [ "$(cat web/node_modules/.installed-lock 2>/dev/null)" != "$lock" ]; then
        npm ci --prefix web --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
        echo "$lock" > web/node_modules/.installed-lock
    fi
    rm -rf app/static/ort && mkdir -p app/static/ort  # what an older version copied goes
    for f in "${ort_files[@]}"; do cp web/node_modules/onnxruntime-web/dist/"$f" app/static/ort/; done
elif [ ! -f app/static/ort/ort.wasm.min.mjs ]; then
    echo "note: no npm, so no browser runtime (onnxruntime-web): the demo page draws its images on the server" >&2
fi
# The client after the project, in a pip run of its own: an environment made before the client had its own
# distribution has gan-client's script in the project's old record, and reinstalling the project removes it.
if [ "${EDITABLE:-1}" = 1 ]; then
    "${pip[@]}" -e ".${extra}"
    "${pip[@]}" -e "./client[numpy]"
else
    "${pip[@]}" ".${extra}"
    "${pip[@]}" "./client[numpy]"
fi
