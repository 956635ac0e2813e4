"""The sampling recipes beside latents_for_seeds: interpolation with blended conditioning, arithmetic, sweeps."""

from __future__ import annotations

import pytest
import torch

from models.common import Latents
from models.sampling import arithmetic, interpolate, slerp, sweep_categories, sweep_code
from tests.helpers import tiny

pytestmark = pytest.mark.unit


def test_an_interpolation_blends_indices_and_its_ends_are_the_ends():
    G, _ = tiny("cgan")
    a, b = G.latents_for_seeds([1], labels=3), G.latents_for_seeds([2], labels=7)
    walk, t = interpolate(a, b, steps=5)
    assert walk.labels.tolist() == [3] * 5 and walk.blend_labels.tolist() == [7] * 5  # indices, both ends
    assert torch.equal(walk.blend, t)
    rows = walk.label_rows(G.num_classes)
    assert torch.allclose(rows[:, 3], 1 - t) and torch.allclose(rows[:, 7], t)
    with torch.inference_mode():
        images = G(walk)
        ends = G(Latents.cat([a, b]))  # the ends as plain rows (same batch size class: within float rounding)
        assert torch.allclose(images[0], ends[0], atol=1e-6) and torch.allclose(images[-1], ends[1], atol=1e-6)
    labels, _ = walk.described(G.num_classes, 0)
    assert labels.tolist() == [3, 3, 3, 7, 7]  # the label with the larger weight


@pytest.mark.parametrize("family", ["cgan", "infogan"])
def test_blended_and_plain_rows_stack_into_one_batch_without_moving_a_pixel(family):
    G, _ = tiny(family)
    plain = G.latents_for_seeds([4, 5, 6])
    walk, _ = interpolate(G.latents_for_seeds([1]), G.latents_for_seeds([2]), steps=4)
    with torch.inference_mode():
        apart = torch.cat([G(plain), G(walk)])
        together = G(Latents.cat([plain, walk]))
        assert together.shape[0] == 7 and torch.equal(G(plain.blended()), G(plain))
    assert torch.allclose(together, apart, atol=1e-6)


def test_a_plain_model_interpolates_without_a_blend():
    G, _ = tiny("dcgan")
    walk, _ = interpolate(G.latents_for_seeds([1]), G.latents_for_seeds([2]), steps=3, method="lerp")
    assert walk.blend is None and walk.labels is None and len(walk) == 3
    assert torch.allclose(walk.z[1], (G.latents_for_seeds([1]).z[0] + G.latents_for_seeds([2]).z[0]) / 2)


def test_slerp_keeps_the_norm_of_equal_norm_ends():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    mid = slerp(a, b, torch.tensor([0.5]))[0]
    assert torch.allclose(mid.norm(), torch.tensor(1.0)) and torch.allclose(mid, torch.tensor([0.7071, 0.7071]),
                                                                            atol=1e-4)


def test_arithmetic_rows_are_the_result_its_neighbours_and_the_terms():
    G, _ = tiny("cgan")
    one, two = G.latents_for_seeds([1]).z[0], G.latents_for_seeds([2]).z[0]
    latents, means = arithmetic(G, [(1.0, one), (-0.5, two)], neighbors=2, seed=3,
                                base=G.latents_for_seeds([0], labels=6))
    assert len(latents) == 1 + 2 + 2 and latents.labels.tolist() == [6] * 5
    assert torch.allclose(latents.z[0], one - 0.5 * two) and torch.equal(latents.z[3], one)
    assert (latents.z[1:3] - latents.z[0]).abs().max() <= 0.25


def test_sweeps_lay_out_categories_and_codes():
    G, _ = tiny("infogan")
    grid = sweep_code(G, seed=3, code=1, steps=4, low=-2, high=2, fixed=[0.7, 0.0])
    assert grid.columns == 4 and len(grid.latents) == G.num_categories * 4
    assert grid.latents.codes[:4, 1].tolist() == [-2.0, -2 / 3, 2 / 3, 2.0] or torch.allclose(
        grid.latents.codes[:4, 1], torch.tensor([-2.0, -2 / 3, 2 / 3, 2.0]))
    assert torch.all(grid.latents.codes[:, 0] == 0.7)  # the other code fixed
    cats = sweep_categories(G, seed=1, rows=2)
    assert cats.latents.categories.tolist() == list(range(G.num_categories)) * 2 and cats.columns == G.num_categories
