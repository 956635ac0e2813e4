# GAN Studio: the API, the demo page and the shipped checkpoints.
#   CPU image (default):  docker build -t gan-studio .
#   CUDA image:           docker build --build-arg TORCH_INDEX_URL=https://pypi.org/simple -t gan-studio:cuda .
#                         (PyPI's Linux torch wheels carry CUDA; run with --gpus all and GAN_DEVICE=cuda)
FROM python:3.11-slim-bookworm

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV VENV=/opt/venv \
    TORCH_INDEX_URL=${TORCH_INDEX_URL} \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

WORKDIR /app

# Dependencies first, with the same install script as the README, so code changes reuse this layer.
COPY pyproject.toml README.md ./
COPY scripts/install.sh scripts/install.sh
RUN mkdir -p app models training \
    && touch app/__init__.py models/__init__.py training/__init__.py \
    && bash scripts/install.sh

COPY models models
COPY training training
COPY app app
COPY checkpoints checkpoints

RUN useradd --create-home --uid 10001 gan \
    && mkdir -p /models \
    && chown gan /models
USER 10001

ENV PATH=/opt/venv/bin:$PATH \
    GAN_CHECKPOINT_DIR=/app/checkpoints \
    GAN_EXTRA_CHECKPOINT_DIR=/models
VOLUME ["/models"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]

CMD ["gan-serve", "--host", "0.0.0.0", "--port", "8000"]
