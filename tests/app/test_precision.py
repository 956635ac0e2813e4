"""GAN_PRECISION: the generators in float16 or bfloat16, against float32, on every shipped checkpoint."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from app.config import Settings
from app.main import create_app
from app.service import GanService
from models.checkpoint import load_checkpoint
from tests.conftest import CHECKPOINTS, REPO_ROOT, shipped_generators
from training.evaluate import generate

# The largest move of a pixel against float32 (grey levels) and the share of pixels moved by more than 1,
# measured on 64 seeds of every shipped generator: float16 2 and none; bfloat16 13 and about 2%.
BOUNDS = {"float16": (2, 0.001), "bfloat16": (16, 0.05)}


def grey_levels(G: torch.nn.Module, precision: str, tmp_path) -> np.ndarray:
    latents = G.one_hot_rows(G.latents_for_seeds(range(64)))
    settings = Settings(precision=precision, checkpoint_dir=tmp_path)
    return GanService(settings).forward_fn(G)(latents).astype(np.int16)


@pytest.mark.parametrize("precision", sorted(BOUNDS))
def test_lower_precision_moves_pixels_by_at_most_its_bound(precision, tmp_path):
    most, share = BOUNDS[precision]
    for name in shipped_generators():
        G, _ = load_checkpoint(os.path.join(CHECKPOINTS, name))
        diff = np.abs(grey_levels(G, precision, tmp_path) - grey_levels(G, "float32", tmp_path))
        assert diff.max() <= most and (diff > 1).mean() <= share, (name, int(diff.max()), float((diff > 1).mean()))
        assert diff.max() > 0, name  # it really ran in the other type
        assert next(G.parameters()).dtype == torch.float32  # the loaded model is left as it was


def test_the_served_image_and_its_etag_follow_the_precision():
    answers = {}
    for precision in ("float32", "float16"):
        settings = Settings(checkpoint_dir=CHECKPOINTS, precision=precision, log_level="warning")
        with TestClient(create_app(settings)) as client:
            r = client.get("/models/dcgan-mnist/sample.png", params={"seed": 5, "n": 4})
            assert r.status_code == 200
            answers[precision] = (np.asarray(Image.open(io.BytesIO(r.content))).astype(np.int16), r.headers["etag"])
    (full, full_tag), (half, half_tag) = answers["float32"], answers["float16"]
    assert full_tag != half_tag  # a cache in front never mixes the two
    assert full.shape == half.shape and 0 < np.abs(full - half).max() <= BOUNDS["float16"][0]


def test_the_evaluator_runs_a_generator_in_lower_precision():
    G, _ = load_checkpoint(REPO_ROOT / "checkpoints" / "cgan-mnist")
    full, latents = generate(G, 20, 0)
    half, _ = generate(G.to(torch.float16), 20, 0)
    assert half.dtype == torch.float32 and latents.labels.tolist() == [i % 10 for i in range(20)]
    assert 0 < (half - full).abs().max() <= 2 * BOUNDS["float16"][0] / 127.5
