"""DCGAN (Radford et al. 2015): all-convolutional, batch norm, ReLU/tanh in G, LeakyReLU in D."""

from __future__ import annotations

import torch
from torch import nn

from models.common import (
    Discriminator,
    Generator,
    Latents,
    MinibatchStd,
    downsample_block,
    init_dcgan_weights,
    upsampling_body,
    upsampling_plan,
)


class DcganGenerator(Generator):
    """z is projected to a 7x7 map by a transposed convolution, then upsampled twice to 28x28; for 32, 64 or 128
    pixels, the paper's layout: a 4x4 map of ``base_channels * 2**k`` maps upsampled k times (64: four
    fractionally-strided convolutions, 1024 maps at 4x4 with ``base_channels`` 64).

    With ``refine`` the second upsampling keeps ``base_channels`` feature maps and a stride-1
    convolution at full resolution draws the image from them.
    """

    family = "dcgan"

    def __init__(self, z_dim: int = 100, img_shape: tuple[int, int, int] = (1, 28, 28),
                 base_channels: int = 64, refine: bool = False) -> None:
        super().__init__()
        self.z_dim, self.img_shape, self.base_channels = z_dim, tuple(img_shape), base_channels
        self.refine = refine
        c = base_channels
        start, ups = upsampling_plan(img_shape[1])
        first = c * 2**ups  # 4c at 28 pixels
        self.net = nn.Sequential(  # no batch norm on the output layer
            nn.ConvTranspose2d(z_dim, first, start, 1, 0, bias=False),
            nn.BatchNorm2d(first),
            nn.ReLU(True),
            *upsampling_body(first, ups, img_shape[0], refine),
        )
        init_dcgan_weights(self)

    def forward(self, latents: Latents) -> torch.Tensor:
        return self.net(latents.z[:, :, None, None])


class DcganDiscriminator(Discriminator):
    """Strided convolutions (no batch norm on the input layer), then one logit.

    ``depth`` strided layers: 2 stops at 7x7 (the mirror of G); 3 goes down to 3x3, as deep as the paper's
    discriminators relative to their image size.
    """

    def __init__(self, img_shape: tuple[int, int, int] = (1, 28, 28), base_channels: int = 64,
                 minibatch_std: bool = False, extra_conv: bool = False, depth: int = 2) -> None:
        super().__init__()
        self.img_shape, self.base_channels, self.minibatch_std = tuple(img_shape), base_channels, minibatch_std
        self.extra_conv, self.depth = extra_conv, depth
        side = img_shape[1] // 2**depth  # each strided layer halves the side (rounding down)
        if depth < 1 or side < 1:
            raise ValueError(f"depth must be at least 1 and leave a map of at least 1x1, got {depth}")
        c = base_channels
        width = 2 ** (depth - 1) * c
        self.net = nn.Sequential(
            downsample_block(img_shape[0], c, batch_norm=False),
            *(downsample_block(2 ** (i - 1) * c, 2**i * c) for i in range(1, depth)),
            # an optional stride-1 layer at the last resolution: more capacity, still all-convolutional
            nn.Sequential(nn.Conv2d(width, 2 * width, 3, 1, 1, bias=False), nn.BatchNorm2d(2 * width),
                          nn.LeakyReLU(0.2, True)) if extra_conv else nn.Identity(),
            MinibatchStd() if minibatch_std else nn.Identity(),
            nn.Conv2d(width * (1 + int(extra_conv)) + int(minibatch_std), 1, side),
        )
        init_dcgan_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The feature map of every convolutional layer before the logit (after its activation): what
        Radford et al. (section 5.1) pool and concatenate to use D as a feature extractor."""
        maps = []
        for layer in self.net[:-1]:
            x = layer(x)
            if isinstance(layer, nn.Sequential):  # a convolution block, not Identity or the batch statistic
                maps.append(x)
        return maps
