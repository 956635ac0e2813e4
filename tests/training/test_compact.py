"""Compacted checkpoints: float16 weights, half the file, the same model once loaded."""

from __future__ import annotations

import pytest
import torch

from models.checkpoint import load_checkpoint, save_checkpoint

pytestmark = pytest.mark.unit


def test_float16_weights_take_half_the_file_and_load_into_the_same_float32_model(tmp_path):
    from models.dcgan import DcganGenerator
    from training.compact import compact

    torch.manual_seed(0)
    G = DcganGenerator(z_dim=8, img_shape=(3, 64, 64), base_channels=8).eval()
    save_checkpoint(G, tmp_path / "g", {"kind": "generator", "metrics": {"copy_ratio": 1.2}})
    full = (tmp_path / "g.safetensors").stat().st_size
    card = compact(tmp_path / "g")
    assert card["weights_dtype"] == "float16" and card["metrics"] == {"copy_ratio": 1.2}
    assert (tmp_path / "g.safetensors").stat().st_size < 0.55 * full
    H, loaded = load_checkpoint(tmp_path / "g")
    assert loaded["sha256"] == card["sha256"] and all(p.dtype == torch.float32 for p in H.parameters())
    latents = G.latents_for_seeds([1, 2])
    expected = G.to(torch.float16).float()(latents)  # the weights rounded as stored
    assert torch.allclose(H(latents), expected, atol=1e-5)
