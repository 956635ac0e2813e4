"""DiffAugment's policies on D's inputs: colour, translation and cutout, differentiable, each image its own draw."""

from __future__ import annotations

import pytest
import torch

from training.augment import colour, cutout, diff_augment

pytestmark = pytest.mark.unit


def test_colour_moves_brightness_saturation_and_contrast_per_image():
    torch.manual_seed(0)
    x = torch.rand(16, 3, 8, 8) * 2 - 1
    y = colour(x)
    assert y.shape == x.shape and not torch.allclose(y, x)
    shifts = (y - x).mean(dim=[1, 2, 3])
    assert shifts.std() > 0.05  # each image its own brightness
    grey = torch.full((4, 1, 8, 8), 0.25)
    assert torch.allclose(colour(grey).std(dim=[1, 2, 3]), torch.zeros(4), atol=1e-6)  # a flat image stays flat


def test_cutout_greys_a_square_of_the_share_asked():
    torch.manual_seed(1)
    x = torch.ones(64, 1, 16, 16)
    y = cutout(x, 0.5)
    cut = (y == 0).float().sum(dim=[1, 2, 3])
    assert cut.max() == 64 and cut.min() >= 8  # an 8x8 square, partly outside the image at the edges
    assert set(y.unique().tolist()) <= {0.0, 1.0}


def test_the_policies_are_differentiable_and_off_by_default():
    x = torch.rand(4, 3, 16, 16, requires_grad=True)
    diff_augment(x, colour_jitter=True, shift=2, cutout_ratio=0.5).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert diff_augment(x) is x
