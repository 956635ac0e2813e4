"""Conditional GAN (Mirza & Osindero 2014): the one-hot label joins z at G's input and x at D's input.

Both networks use the DCGAN convolutional body; D sees the label as extra constant channels.
"""

from __future__ import annotations

import torch
from torch import nn

from models.common import Generator, Latents, downsample_block, init_dcgan_weights, one_hot, upsample_block


class CganGenerator(Generator):
    family = "cgan"

    def __init__(self, z_dim: int = 100, num_classes: int = 10, img_shape: tuple[int, int, int] = (1, 28, 28),
                 base_channels: int = 64) -> None:
        super().__init__()
        self.z_dim, self.num_classes, self.img_shape = z_dim, num_classes, tuple(img_shape)
        self.base_channels = base_channels
        c = base_channels
        self.net = nn.Sequential(
            nn.ConvTranspose2d(z_dim + num_classes, 4 * c, img_shape[1] // 4, 1, 0, bias=False),
            nn.BatchNorm2d(4 * c),
            nn.ReLU(True),
            upsample_block(4 * c, 2 * c),
            nn.ConvTranspose2d(2 * c, img_shape[0], 4, 2, 1),
            nn.Tanh(),
        )
        init_dcgan_weights(self)

    def forward(self, latents: Latents) -> torch.Tensor:
        if latents.labels is None:
            raise ValueError("CganGenerator needs labels")
        zy = torch.cat([latents.z, one_hot(latents.labels, self.num_classes)], dim=1)
        return self.net(zy[:, :, None, None])


class CganDiscriminator(nn.Module):
    def __init__(self, num_classes: int = 10, img_shape: tuple[int, int, int] = (1, 28, 28),
                 base_channels: int = 64) -> None:
        super().__init__()
        self.num_classes, self.img_shape, self.base_channels = num_classes, tuple(img_shape), base_channels
        c = base_channels
        self.net = nn.Sequential(
            downsample_block(img_shape[0] + num_classes, c, batch_norm=False),
            downsample_block(c, 2 * c),
            nn.Conv2d(2 * c, 1, img_shape[1] // 4),
        )
        init_dcgan_weights(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        y = one_hot(labels, self.num_classes)[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return self.net(torch.cat([x, y], dim=1)).flatten()
