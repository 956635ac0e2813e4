"""DCGAN (Radford et al. 2015): all-convolutional, batch norm, ReLU/tanh in G, LeakyReLU in D."""

from __future__ import annotations

import torch
from torch import nn

from models.common import Generator, Latents, MinibatchStd, downsample_block, init_dcgan_weights, upsample_block


class DcganGenerator(Generator):
    """z is projected to a 7x7 map by a transposed convolution, then upsampled twice to 28x28.

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
        # no batch norm on the output layer
        output = (
            nn.Sequential(upsample_block(2 * c, c), nn.Conv2d(c, img_shape[0], 3, 1, 1)) if refine
            else nn.ConvTranspose2d(2 * c, img_shape[0], 4, 2, 1)
        )
        self.net = nn.Sequential(
            nn.ConvTranspose2d(z_dim, 4 * c, img_shape[1] // 4, 1, 0, bias=False),
            nn.BatchNorm2d(4 * c),
            nn.ReLU(True),
            upsample_block(4 * c, 2 * c),
            output,
            nn.Tanh(),
        )
        init_dcgan_weights(self)

    def forward(self, latents: Latents) -> torch.Tensor:
        return self.net(latents.z[:, :, None, None])


class DcganDiscriminator(nn.Module):
    """Strided convolutions (no batch norm on the input layer), then one logit.

    ``depth`` 2 stops at 7x7 (the mirror of G); 3 adds a third strided layer down to 3x3, as deep as the
    paper's discriminators relative to their image size.
    """

    def __init__(self, img_shape: tuple[int, int, int] = (1, 28, 28), base_channels: int = 64,
                 minibatch_std: bool = False, extra_conv: bool = False, depth: int = 2) -> None:
        super().__init__()
        self.img_shape, self.base_channels, self.minibatch_std = tuple(img_shape), base_channels, minibatch_std
        self.extra_conv, self.depth = extra_conv, depth
        if depth not in (2, 3):
            raise ValueError(f"depth must be 2 or 3, got {depth}")
        c = base_channels
        width = 2 ** (depth - 1) * c
        layers = [downsample_block(img_shape[0], c, batch_norm=False), downsample_block(c, 2 * c)]
        if depth == 3:
            layers.append(downsample_block(2 * c, 4 * c))
        side = img_shape[1] // 4 if depth == 2 else (img_shape[1] // 4 - 2) // 2 + 1
        self.net = nn.Sequential(
            *layers,
            # an optional stride-1 layer at the last resolution: more capacity, still all-convolutional
            nn.Sequential(nn.Conv2d(width, 2 * width, 3, 1, 1, bias=False), nn.BatchNorm2d(2 * width),
                          nn.LeakyReLU(0.2, True)) if extra_conv else nn.Identity(),
            MinibatchStd() if minibatch_std else nn.Identity(),
            nn.Conv2d(width * (1 + int(extra_conv)) + int(minibatch_std), 1, side),
        )
        init_dcgan_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()
