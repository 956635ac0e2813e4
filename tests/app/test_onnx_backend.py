"""GAN_BACKEND=onnxruntime: the service's answers from ONNX Runtime against the same requests to the torch backend."""

from __future__ import annotations

import io
import logging
import sys

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.cli import serve
from app.config import Settings
from app.main import create_app
from app.runner import Runner
from models import Generator
from models.checkpoint import load_checkpoint
from tests.helpers import CHECKPOINTS, copy_checkpoints, shipped_settings

pytest.importorskip("onnxruntime")

pytestmark = pytest.mark.unit

MODELS = ("gan-mnist", "cgan-mnist", "infogan-mnist", "dcgan-emoji")
REQUESTS = [
    {"model": "gan-mnist", "n": 4, "seed": 3},
    {"model": "dcgan-emoji", "n": 3, "seed": 11},
    {"model": "cgan-mnist", "n": 5, "seed": 7, "label": 4},
    {"model": "cgan-mnist", "seeds": [1, 20, 300], "labels": [0, 5, 9]},
    {"model": "infogan-mnist", "n": 3, "seed": 5, "category": 2, "codes": [0.5, -1.0]},
]


@pytest.fixture(scope="module")
def clients(tmp_path_factory):
    """The app on a few shipped checkpoints, once with each backend."""
    folder = copy_checkpoints(tmp_path_factory.mktemp("checkpoints"), MODELS)
    settings = shipped_settings(checkpoint_dir=folder, watch=False)
    with (TestClient(create_app(settings)) as torch_client,
          TestClient(create_app(settings.model_copy(update={"backend": "onnxruntime"}))) as onnx_client):
        yield {"torch": torch_client, "onnxruntime": onnx_client}


def pixels(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content))).astype(np.int16)


@pytest.mark.parametrize("body", REQUESTS, ids=lambda body: "-".join(f"{v}" for v in body.values()))
def test_generate_answers_the_torch_pixels_within_a_grey_level(clients, body):
    answers = {backend: client.post("/generate", json=body) for backend, client in clients.items()}
    torch_png, onnx_png = pixels(answers["torch"]), pixels(answers["onnxruntime"])
    assert torch_png.shape == onnx_png.shape and np.abs(torch_png - onnx_png).max() <= 1
    assert answers["torch"].headers["x-model-version"] == answers["onnxruntime"].headers["x-model-version"]


def test_an_interpolation_blends_in_the_graph_as_in_torch(clients):
    body = {"model": "cgan-mnist", "start": {"seed": 1}, "end": {"seed": 2}, "steps": 6, "label": 8}
    torch_png, onnx_png = (pixels(client.post("/latent/interpolate", json=body)) for client in clients.values())
    assert np.abs(torch_png - onnx_png).max() <= 1


def test_the_etag_names_the_backend(clients):
    tags = {backend: client.get("/models/cgan-mnist/sample.png", params={"seed": 5, "n": 2}).headers["etag"]
            for backend, client in clients.items()}
    assert tags["torch"] != tags["onnxruntime"]  # a cache in front never mixes the two


def test_torch_settings_are_ignored_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="gan_studio"):
        runner = Runner(Settings(backend="onnxruntime", precision="float16", cuda_graphs=True))
    runner.stop()
    assert not runner.cuda_graphs
    assert "GAN_PRECISION=float16 and GAN_CUDA_GRAPHS ignored" in caplog.text


def test_without_onnx_runtime_the_backend_fails_at_startup_in_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    with pytest.raises(RuntimeError, match=r"pip install 'gan-studio\[onnx\]'"):
        Runner(Settings(backend="onnxruntime"))
    monkeypatch.setenv("GAN_BACKEND", "onnxruntime")
    with pytest.raises(SystemExit) as stop:
        serve([])
    message = str(stop.value.code)
    assert "GAN_BACKEND=onnxruntime needs onnxruntime" in message and "\n" not in message


def test_the_torch_backend_runs_without_onnx(monkeypatch):
    for module in ("onnx", "onnxruntime", "models.onnx"):
        monkeypatch.setitem(sys.modules, module, None)  # importing them would raise
    G, _ = load_checkpoint(CHECKPOINTS / "cgan-mnist", expected_class=Generator)
    runner = Runner(Settings())
    try:
        assert runner.forward_fn(G)(G.latents_for_seeds([1, 2])).shape == (2, 28, 28, 1)
    finally:
        runner.stop()
