# GAN Studio: the API, the demo page and the shipped checkpoints.
#   CPU image (default):  docker build -t gan-studio .
#   CUDA image:           docker build --build-arg TORCH_VARIANT=cuda -t gan-studio:cuda .
#                         (PyPI's Linux torch wheel, which carries CUDA; run with --gpus all and GAN_DEVICE=cuda)
#   TORCH_INDEX_URL overrides where torch comes from (empty: pip's own settings, e.g. a mirror).

# --- build: a virtual environment with the service installed (no compilers needed: every dependency is a wheel)
FROM python:3.11-slim-bookworm AS build
ARG TORCH_VARIANT=cpu
ARG TORCH_INDEX_URL
ENV VENV=/opt/venv PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src

# Dependencies first, from pyproject.toml alone, so a code or README change reuses this layer.
COPY pyproject.toml ./
COPY scripts/install.sh scripts/install.sh
RUN bash scripts/install.sh --deps-only \
    # What serving never touches: torch's C++ headers, its test binaries and test suite (about 190 MB), and
    # numpy's tests (torch.testing._internal stays: torch imports it at start).
    && cd /opt/venv/lib/python3.11/site-packages \
    && rm -rf torch/include torch/test torch/share/cmake \
    && find torch/bin -mindepth 1 ! -name torch_shm_manager -exec rm -rf {} + \
    && find numpy -type d -name tests -prune -exec rm -rf {} +

COPY README.md ./
# app/static/ort comes along when the host's install copied the page's browser runtime there (npm ci in web/); the
# image has no npm, and without those files its page draws on the server
COPY app app
COPY models models
COPY training training
COPY client client
RUN EDITABLE=0 bash scripts/install.sh \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib/python3.11/site-packages/app \
       /opt/venv/lib/python3.11/site-packages/models /opt/venv/lib/python3.11/site-packages/training \
    # the image serves; it installs nothing more
    && /opt/venv/bin/python -m pip uninstall -q -y pip setuptools

# --- runtime: the environment and the checkpoints, owned by root, run by an unprivileged user
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    GAN_CHECKPOINT_DIR=/app/checkpoints \
    GAN_EXTRA_CHECKPOINT_DIR=/models
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY checkpoints checkpoints
RUN useradd --create-home --uid 10001 gan \
    && mkdir -p /models \
    && chown gan /models
USER 10001
VOLUME ["/models"]
EXPOSE 8000

# Healthy means ready: at least one model loaded (a container whose models all failed is unhealthy).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]

CMD ["gan-serve", "--host", "0.0.0.0", "--port", "8000"]
