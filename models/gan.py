"""GAN (Goodfellow et al. 2014): an MLP generator and a maxout MLP discriminator with dropout."""

from __future__ import annotations

import math

import torch
from torch import nn

from models.common import Generator, Latents


class GanGenerator(Generator):
    """MLP generator: ReLU hidden layers, tanh output (pixels in [-1, 1])."""

    family = "gan"

    def __init__(self, z_dim: int = 100, img_shape: tuple[int, int, int] = (1, 28, 28),
                 hidden: tuple[int, ...] = (256, 512, 1024)) -> None:
        super().__init__()
        self.z_dim, self.img_shape, self.hidden = z_dim, tuple(img_shape), tuple(hidden)
        layers: list[nn.Module] = []
        width = z_dim
        for h in self.hidden:
            layers += [nn.Linear(width, h), nn.ReLU(True)]
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


class GanDiscriminator(nn.Module):
    """Maxout MLP with dropout, ending in one logit (the paper's MNIST discriminator).

    With ``pack`` > 1 it judges that many images at once (Lin et al. 2018, PacGAN), against mode collapse.
    """

    def __init__(self, img_shape: tuple[int, int, int] = (1, 28, 28), hidden: tuple[int, ...] = (240, 240),
                 pieces: int = 5, dropout: float = 0.5, input_dropout: float = 0.2, pack: int = 1,
                 minibatch_std: bool = False, spectral_norm: bool = False) -> None:
        super().__init__()
        self.img_shape, self.hidden, self.pieces = tuple(img_shape), tuple(hidden), pieces
        self.dropout, self.input_dropout, self.pack = dropout, input_dropout, pack
        self.minibatch_std, self.spectral_norm = minibatch_std, spectral_norm
        layers: list[nn.Module] = [nn.Dropout(input_dropout)]
        width = math.prod(self.img_shape) * pack
        for h in self.hidden:
            layers += [Maxout(width, h, pieces), nn.Dropout(dropout)]
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width + int(minibatch_std), 1)
        if spectral_norm:
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.utils.parametrizations.spectral_norm(m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One logit per ``pack`` images (PacGAN: judging samples jointly makes mode collapse visible to D)."""
        h = self.body(x.reshape(x.shape[0] // self.pack, -1))
        if self.minibatch_std:  # the batch's feature spread as one more feature: collapse shows as a low value
            h = torch.cat([h, h.std(dim=0).mean().expand(h.shape[0], 1)], dim=1)
        return self.head(h).squeeze(1)
