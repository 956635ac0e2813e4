"""GAN (Goodfellow et al. 2014): an MLP generator and a maxout MLP discriminator with dropout."""

from __future__ import annotations

import math

import torch
from torch import nn

from models.common import Discriminator, Generator, Latents, MinibatchStd


class GanGenerator(Generator):
    """MLP generator: ReLU hidden layers, tanh output (pixels in [-1, 1])."""

    family = "gan"

    def __init__(self, z_dim: int = 100, img_shape: tuple[int, int, int] = (1, 28, 28),
                 hidden: tuple[int, ...] = (256, 512, 1024), batch_norm: bool = False) -> None:
        super().__init__()
        self.z_dim, self.img_shape, self.hidden, self.batch_norm = z_dim, tuple(img_shape), tuple(hidden), batch_norm
        layers: list[nn.Module] = []
        width = z_dim
        for h in self.hidden:
            layers += [nn.Linear(width, h, bias=not batch_norm)]
            layers += [nn.BatchNorm1d(h)] if batch_norm else []
            layers += [nn.ReLU(True)]
            width = h
        layers += [nn.Linear(width, math.prod(self.img_shape)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, latents: Latents) -> torch.Tensor:
        return self.net(latents.z).view(-1, *self.img_shape)


class Maxout(nn.Module):
    """A linear layer whose units each output the max of ``pieces`` affine pieces."""

    def __init__(self, in_features: int, out_features: int, pieces: int) -> None:
        super().__init__()
        self.out_features, self.pieces = out_features, pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(-1, self.out_features, self.pieces).amax(dim=2)


class GanDiscriminator(Discriminator):
    """Maxout MLP with dropout, ending in one logit (the paper's MNIST discriminator).

    With ``minibatch_std`` the head also sees the batch's feature spread (ProGAN), against mode collapse.
    """

    def __init__(self, img_shape: tuple[int, int, int] = (1, 28, 28), hidden: tuple[int, ...] = (240, 240),
                 pieces: int = 5, dropout: float = 0.5, input_dropout: float = 0.2,
                 minibatch_std: bool = False) -> None:
        super().__init__()
        self.img_shape, self.hidden, self.pieces = tuple(img_shape), tuple(hidden), pieces
        self.dropout, self.input_dropout, self.minibatch_std = dropout, input_dropout, minibatch_std
        layers: list[nn.Module] = [nn.Flatten(), nn.Dropout(input_dropout)]
        width = math.prod(self.img_shape)
        for h in self.hidden:
            layers += [Maxout(width, h, pieces), nn.Dropout(dropout)]
            width = h
        layers += [MinibatchStd()] if minibatch_std else []
        layers.append(nn.Linear(width + int(minibatch_std), 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)
