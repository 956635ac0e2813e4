"""models.graphs: the bucketed, padded forward pass behind GAN_CUDA_GRAPHS. The capture itself needs a GPU
(tests/app/test_cuda_graphs.py has those tests); the bookkeeping around it (buckets, padding, chunks, the copy
into static inputs) runs eagerly here."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models import FAMILIES
from models.graphs import GraphedForward, bucket_sizes
from models.images import to_uint8
from tests.helpers import tiny

pytestmark = pytest.mark.unit

CPU = torch.device("cpu")


def test_buckets_are_powers_of_two_up_to_the_largest_batch():
    assert bucket_sizes(256) == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert bucket_sizes(100) == [1, 2, 4, 8, 16, 32, 64, 100]
    assert bucket_sizes(1) == [1]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_padded_buckets_give_the_eager_pixels(family):
    G, _ = tiny(family)
    forward = GraphedForward(G, [1, 2, 4], CPU, capture=False)
    latents = G.latents_for_seeds(range(100, 111))
    with torch.inference_mode():
        eager = to_uint8(G(latents))
    for n in (1, 3, 4, 11):  # a bucket of its own, padded to 4, exactly 4, chunks of 4 (4 + 4 + 3)
        got = forward(latents[:n])
        assert got.shape == eager[:n].shape and got.dtype == np.uint8
        assert np.abs(got.astype(int) - eager[:n]).max() <= 1, n  # other batch sizes may round a pixel apart
    # a batch after a larger one in the same bucket: the stale rows are sliced off, not returned
    assert np.abs(forward(latents[5:7]).astype(int) - eager[5:7]).max() <= 1


def test_latents_must_carry_the_fields_the_graph_was_made_with():
    G, _ = tiny("cgan")
    forward = GraphedForward(G, [2], CPU, capture=False)
    latents = G.latents_for_seeds([1, 2])
    latents.labels = None
    with pytest.raises(ValueError, match="without labels"):
        forward(latents)


def test_capture_needs_a_cuda_device():
    G, _ = tiny("dcgan")
    with pytest.raises(ValueError, match="CUDA device"):
        GraphedForward(G, [1], CPU)
