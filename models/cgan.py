"""Conditional GAN (Mirza & Osindero 2014): the one-hot label joins z at G's input and x at D's input.

Both networks use the DCGAN convolutional body; D sees the label as extra constant channels.
"""

from __future__ import annotations

import torch
from torch import nn

from models.common import (
    Discriminator,
    Generator,
    Judgement,
    Latents,
    downsample_block,
    init_dcgan_weights,
    one_hot,
    upsampling_body,
    upsampling_plan,
)


class CganGenerator(Generator):
    family = "cgan"

    def __init__(self, z_dim: int = 100, num_classes: int = 10, img_shape: tuple[int, int, int] = (1, 28, 28),
                 base_channels: int = 64, refine: bool = False) -> None:
        super().__init__()
        self.z_dim, self.num_classes, self.img_shape = z_dim, num_classes, tuple(img_shape)
        self.base_channels, self.refine = base_channels, refine
        c = base_channels
        start, ups = upsampling_plan(img_shape[1])  # as DCGAN's generator (refine included)
        first = c * 2**ups
        self.net = nn.Sequential(
            nn.ConvTranspose2d(z_dim + num_classes, first, start, 1, 0, bias=False),
            nn.BatchNorm2d(first),
            nn.ReLU(True),
            *upsampling_body(first, ups, img_shape[0], refine),
        )
        init_dcgan_weights(self)

    def forward(self, latents: Latents) -> torch.Tensor:
        if latents.labels is None:
            raise ValueError("CganGenerator needs labels")
        zy = torch.cat([latents.z, latents.label_rows(self.num_classes)], dim=1)
        return self.net(zy[:, :, None, None])


class CganDiscriminator(Discriminator):
    """``depth`` strided layers, as DCGAN's discriminator (2 stops at 7x7, 3 goes down to 3x3)."""

    def __init__(self, num_classes: int = 10, img_shape: tuple[int, int, int] = (1, 28, 28),
                 base_channels: int = 64, depth: int = 2) -> None:
        super().__init__()
        self.num_classes, self.img_shape, self.base_channels = num_classes, tuple(img_shape), base_channels
        self.depth = depth
        side = img_shape[1] // 2**depth
        if depth < 1 or side < 1:
            raise ValueError(f"depth must be at least 1 and leave a map of at least 1x1, got {depth}")
        c = base_channels
        self.net = nn.Sequential(
            downsample_block(img_shape[0] + num_classes, c, batch_norm=False),
            *(downsample_block(2 ** (i - 1) * c, 2**i * c) for i in range(1, depth)),
            nn.Conv2d(2 ** (depth - 1) * c, 1, side),
        )
        init_dcgan_weights(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        y = one_hot(labels, self.num_classes)[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return self.net(torch.cat([x, y], dim=1)).flatten()

    def judge(self, x: torch.Tensor, latents: Latents) -> Judgement:
        """D sees each image with its label: a real digit's own, a generated one's drawn from the prior."""
        if latents.labels is None:
            raise ValueError("CganDiscriminator needs labels")
        return Judgement(self(x, latents.labels))
