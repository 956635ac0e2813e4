"""DiffAugment (Zhao et al. 2020): differentiable augmentations of D's inputs, real and fake alike, so that D
cannot memorise a small training set while G still learns the images as they are. The paper's policies: colour
(brightness, saturation, contrast), translation and cutout, on images in [-1, 1]. Under torchrun every draw is made
for the global batch and each rank takes its rows, so the same run trains the same weights on any number of
processes.

    x = diff_augment(x, colour=True, translate=2, cutout=0.5)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from training.distributed import SINGLE_PROCESS, World


def draw(shape: tuple[int, ...], x: torch.Tensor, world: World) -> torch.Tensor:
    """Uniform [0, 1) numbers of ``shape`` (batch first) for this rank's rows of the global batch."""
    full = torch.rand(shape[0] * world.size, *shape[1:], device=x.device)
    return world.shard(full)


def colour(x: torch.Tensor, world: World = SINGLE_PROCESS) -> torch.Tensor:
    """Brightness by +-0.5, saturation by 0-2x, contrast by 0.5-1.5x, each image its own (the paper's ranges)."""
    n = x.shape[0]
    x = x + (draw((n, 1, 1, 1), x, world) - 0.5)
    if x.shape[1] > 1:  # saturation: a grey image has none
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (draw((n, 1, 1, 1), x, world) * 2) + mean
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (draw((n, 1, 1, 1), x, world) + 0.5) + mean


def translate(x: torch.Tensor, max_shift: int, world: World = SINGLE_PROCESS) -> torch.Tensor:
    """Each image shifted by up to ``max_shift`` pixels, the background (-1) filling the gap."""
    n, _, h, w = x.shape
    shift = torch.randint(-max_shift, max_shift + 1, (2, n * world.size, 1, 1), device=x.device)
    shift = world.shard(shift.transpose(0, 1)).transpose(0, 1)
    rows = (torch.arange(h, device=x.device).view(1, h, 1) + shift[0, :, :, :1] + max_shift)
    cols = (torch.arange(w, device=x.device).view(1, 1, w) + shift[1, :, :1, :] + max_shift)
    padded = F.pad(x, [max_shift] * 4, value=-1.0)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float, world: World = SINGLE_PROCESS) -> torch.Tensor:
    """A square of ``ratio`` times the side, at a random place (it may stick out), set to 0 (mid grey)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    centre = draw((n, 2), x, world)
    top = (centre[:, 0] * (h + 1 - ch % 2)).long() - ch // 2
    left = (centre[:, 1] * (w + 1 - cw % 2)).long() - cw // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = ((rows >= top.view(n, 1, 1)) & (rows < (top + ch).view(n, 1, 1))
              & (cols >= left.view(n, 1, 1)) & (cols < (left + cw).view(n, 1, 1)))
    return x * (~inside).unsqueeze(1).to(x.dtype)


def diff_augment(x: torch.Tensor, colour_jitter: bool = False, shift: int = 0, cutout_ratio: float = 0.0,
                 world: World = SINGLE_PROCESS) -> torch.Tensor:
    """The policies in the paper's order: colour, translation, cutout."""
    if colour_jitter:
        x = colour(x, world)
    if shift:
        x = translate(x, shift, world)
    if cutout_ratio:
        x = cutout(x, cutout_ratio, world)
    return x
