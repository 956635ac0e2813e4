"""GAN_CUDA_GRAPHS in the service: ignored (and said so) on a CPU; on a GPU, every shipped generator's pixels
kept. The GPU tests run only where CUDA is (``python -m bench --pixels --cuda-graphs --device cuda`` prints the
same measurement)."""

from __future__ import annotations

import logging

import pytest
import torch

from app.config import Settings
from app.runner import Runner
from models.checkpoint import load_checkpoint
from models.graphs import GraphedForward
from tests.helpers import CHECKPOINTS, shipped_generators

pytestmark = pytest.mark.unit


def test_the_setting_on_a_cpu_is_reported_and_ignored(tmp_path, caplog):
    G, _ = load_checkpoint(CHECKPOINTS / "gan-mnist")
    with caplog.at_level(logging.WARNING, logger="gan_studio"):
        service = Runner(Settings(device="cpu", cuda_graphs=True, checkpoint_dir=tmp_path))
    assert not service.cuda_graphs and "GAN_CUDA_GRAPHS" in caplog.text
    forward = service.forward_fn(G)
    assert not isinstance(forward, GraphedForward)
    assert forward(G.latents_for_seeds([7])).shape == (1, 28, 28, 1)


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")


@needs_cuda
@pytest.mark.parametrize("name", shipped_generators())
def test_graphs_keep_every_shipped_generators_pixels_on_a_gpu(name):
    """``python -m bench --pixels --cuda-graphs --device cuda``'s check: within 1 grey level of the eager
    float32 path, and a seed alone gives its image in a batch."""
    from bench.serving import pixel_moves

    move = pixel_moves("float32", seeds=64, device="cuda", cuda_graphs=True)[name]
    assert move["max"] <= 1 and move["batch_max"] <= 1, move


@needs_cuda
def test_a_graphed_service_answers_on_a_gpu(tmp_path):
    service = Runner(Settings(device="cuda", cuda_graphs=True))
    G, _ = load_checkpoint(CHECKPOINTS / "cgan-mnist", "cuda")
    forward = service.forward_fn(G)
    assert isinstance(forward, GraphedForward)
    assert forward(G.latents_for_seeds(range(300))).shape == (300, 28, 28, 1)  # 256 + 44
