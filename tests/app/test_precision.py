"""GAN_PRECISION: the generators in float16 or bfloat16, against float32, on every shipped checkpoint."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from app.config import Settings
from app.main import create_app
from app.runner import Runner
from bench.serving import pixel_moves
from models.checkpoint import load_checkpoint
from tests.helpers import CHECKPOINTS, REPO_ROOT, shipped_generators
from training.evaluate import generate

pytestmark = pytest.mark.unit

# The largest move of a pixel against float32 (grey levels) and the share of pixels moved by more than 1,
# measured on 64 seeds of every shipped generator: float16 2 and none; bfloat16 13 and about 2%.
BOUNDS = {"float16": (2, 0.001), "bfloat16": (16, 0.05)}


@pytest.mark.parametrize("precision", sorted(BOUNDS))
def test_lower_precision_moves_pixels_by_at_most_its_bound(precision):
    """``python -m bench --pixels``'s measurement, on 64 seeds of every shipped generator."""
    most, share = BOUNDS[precision]
    moves = pixel_moves(precision, seeds=64)
    assert set(moves) == set(shipped_generators())
    for name, move in moves.items():
        assert move["max"] <= most and move["share_over_1"] <= share, (name, move)
        assert move["max"] > 0, name  # it really ran in the other type


def test_the_running_copy_leaves_the_loaded_model_in_float32(tmp_path):
    G, _ = load_checkpoint(CHECKPOINTS / "dcgan-mnist")
    Runner(Settings(precision="float16", checkpoint_dir=tmp_path)).forward_fn(G)
    assert {p.dtype for p in G.parameters()} == {torch.float32}


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
