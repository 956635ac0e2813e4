"""DCGAN (Radford et al. 2015): all-convolutional, batch norm, ReLU/tanh in G, LeakyReLU in D."""

from __future__ import annotations

import torch
from torch import nn

from models.common import Generator, Latents, MinibatchStd, downsample_block, init_dcgan_weights, upsample_block


class DcganGenerator(Generator):
    """z is projected to a 7x7 map by a transposed convolution, then upsampled twice to 28x28."""

    family = "dcgan"

    def __init__(self, z_dim: int = 100, img_shape: tuple[int, int, int] = (1, 28, 28),
                 base_channels: int = 64) -> None:
        super().__init__()
        self.z_dim, self.img_shape, self.base_channels = z_dim, tuple(img_shape), base_channels
        c = base_channels
        self.net = nn.Sequential(
            nn.ConvTranspose2d(z_dim, 4 * c, img_shape[1] // 4, 1, 0, bias=False),
            nn.BatchNorm2d(4 * c),
            nn.ReLU(True),
            upsample_block(4 * c, 2 * c),
            nn.ConvTranspose2d(2 * c, img_shape[0], 4, 2, 1),  # no batch norm on the output layer
            nn.Tanh(),
        )
        init_dcgan_weights(self)

    def forward(self, latents: Latents) -> torch.Tensor:
        return self.net(latents.z[:, :, None, None])


class DcganDiscriminator(nn.Module):
    """Two strided convolutions (no batch norm on the input layer), then one logit."""

    def __init__(self, img_shape: tuple[int, int, int] = (1, 28, 28), base_channels: int = 64,
                 minibatch_std: bool = False, extra_conv: bool = False) -> None:
        super().__init__()
        self.img_shape, self.base_channels, self.minibatch_std = tuple(img_shape), base_channels, minibatch_std
        self.extra_conv = extra_conv
        c = base_channels
        width = 4 * c if extra_conv else 2 * c
        self.net = nn.Sequential(
            downsample_block(img_shape[0], c, batch_norm=False),
            downsample_block(c, 2 * c),
            # an optional stride-1 layer at the last resolution: more capacity, still all-convolutional
            nn.Sequential(nn.Conv2d(2 * c, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width),
                          nn.LeakyReLU(0.2, True)) if extra_conv else nn.Identity(),
            MinibatchStd() if minibatch_std else nn.Identity(),
            nn.Conv2d(width + int(minibatch_std), 1, img_shape[1] // 4),
        )
        init_dcgan_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()
