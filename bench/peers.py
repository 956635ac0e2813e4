"""The servers the project is measured against: the naive FastAPI server a user would write first, and TorchServe,
the model server a user would pick instead (``pip install -e '.[bench]'`` and a Java runtime).

    python -m bench --serve-naive --port 8001 --models dcgan-mnist     # the naive server alone
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import torch
from PIL import Image
from pydantic import BaseModel

from app.config import Settings
from models import Generator
from models.checkpoint import load_checkpoint
from models.files import REPO_ROOT
from models.images import grid_array
from tests.server import free_port


# --- the naive baseline server ----------------------------------------------------------------------------
class NaiveBody(BaseModel):
    model: str
    n: int = 1
    seed: int = 0


def naive_app(model: str, device: str):
    """The server a user would write first: a sync route, so FastAPI runs each forward pass alone in its
    threadpool; one torch thread (more threads per request only fight each other); the PNG from Pillow as its
    documentation shows it (the project writes its PNGs itself, see models.images.png_bytes)."""
    from fastapi import FastAPI
    from fastapi.responses import Response

    torch.set_num_threads(1)
    G, _ = load_checkpoint(Settings().checkpoint_dir / model, device, expected_class=Generator)
    app = FastAPI()

    @app.post("/generate")
    def generate(body: NaiveBody) -> Response:
        latents = G.latents_for_seeds(range(body.seed, body.seed + body.n))
        with torch.inference_mode():
            images = ((G(latents.to(device)).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        array = images.permute(0, 2, 3, 1).cpu().numpy()
        picture = array[0] if body.n == 1 else grid_array(array)
        buffer = io.BytesIO()
        Image.fromarray(picture[:, :, 0] if picture.shape[2] == 1 else picture).save(buffer, format="PNG")
        return Response(buffer.getvalue(), media_type="image/png")

    return app


def serve_naive(model: str, port: int, device: str) -> None:
    import uvicorn

    uvicorn.run(naive_app(model, device), host="127.0.0.1", port=port, log_level="warning")


# --- TorchServe, the model server a user would pick instead ----------------------------------------------
TORCHSERVE_HANDLER = REPO_ROOT / "bench" / "torchserve_handler.py"


def torchserve_ready() -> str | None:
    """None when TorchServe can run here, else why not."""
    missing = [tool for tool in ("torchserve", "torch-model-archiver", "java") if not shutil.which(tool_path(tool))]
    return f"not installed: {', '.join(missing)} (pip install -e '.[bench]'; a Java runtime)" if missing else None


def tool_path(tool: str) -> str:
    beside = Path(sys.executable).parent / tool  # the virtual environment's own, when it is not on PATH
    return str(beside) if beside.exists() else shutil.which(tool) or tool


@contextmanager
def torchserve_server(model: str, batch_size: int = 64, max_delay_ms: int = 5, workers: int = 1,
                      timeout: float = 180.0, precision: str = "float32") -> Iterator[str]:
    """TorchServe serving ``model``'s checkpoint through bench/torchserve_handler.py in ``workers`` worker
    processes (the issue's setting: one; TorchServe's own default on a CPU machine: one per core), its dynamic
    batching (``batch_size`` requests or ``max_delay_ms``), the generator in ``precision``; yields the inference URL,
    under which ``/predictions/<model>`` takes the API's request bodies."""
    with tempfile.TemporaryDirectory() as tmp:
        home, checkpoint = Path(tmp), Settings().checkpoint_dir / model
        store = home / "store"
        store.mkdir()
        subprocess.run([tool_path("torch-model-archiver"), "--model-name", model, "--version", "1.0", "--handler",
                        str(TORCHSERVE_HANDLER), "--extra-files", f"{checkpoint}.safetensors,{checkpoint}.json",
                        "--export-path", str(store), "--archive-format", "no-archive"], check=True)
        inference, management, metrics = (free_port() for _ in range(3))
        registration = {model: {"1.0": {"defaultVersion": True, "marName": model, "minWorkers": workers,
                                        "maxWorkers": workers,
                                        "batchSize": batch_size, "maxBatchDelay": max_delay_ms,
                                        "responseTimeout": 120}}}
        config = home / "config.properties"
        config.write_text("\n".join([
            f"inference_address=http://127.0.0.1:{inference}", f"management_address=http://127.0.0.1:{management}",
            f"metrics_address=http://127.0.0.1:{metrics}", f"model_store={store}", f"load_models={model}",
            f"models={json.dumps(registration)}", "disable_token_authorization=true", ""]))
        with open(home / "torchserve.log", "wb") as log:
            proc = subprocess.Popen([tool_path("torchserve"), "--start", "--foreground", "--ts-config", str(config),
                                     "--model-store", str(store), "--ncs", "--disable-token-auth"],
                                    cwd=home, stdout=log,  # its pid file and unpacked models in home too:
                                    env=os.environ | {"PYTHONPATH": str(REPO_ROOT), "TEMP": tmp, "TMPDIR": tmp,
                                                     "TS_GAN_PRECISION": precision},
                                    stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"TorchServe exited:\n{(home / 'torchserve.log').read_text(errors='replace')}")
                try:
                    described = httpx.get(f"http://127.0.0.1:{management}/models/{model}", timeout=2).json()
                    if sum(w.get("status") == "READY" for w in described[0].get("workers", [])) >= workers:
                        break
                except (httpx.HTTPError, ValueError, KeyError, IndexError, AttributeError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"TorchServe not ready in {timeout:g} s")
                time.sleep(0.5)
            yield f"http://127.0.0.1:{inference}"
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
