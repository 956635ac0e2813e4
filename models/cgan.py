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
    """``depth`` strided layers, as DCGAN's discriminator (2 stops at 7x7, 3 goes down to 3x3).

    ``conditioning``: "concat" (the paper's: the one-hot label as extra constant input channels) or "projection"
    (Miyato & Koyama 2018: D's last features dotted with an embedding of the label, added to the logit).
    ``classify``: a second head reads the class from D's last features (AC-GAN, Odena et al. 2017); training
    adds its cross-entropy on real images to D's loss and on generated ones to G's (``lambda_class``)."""

    def __init__(self, num_classes: int = 10, img_shape: tuple[int, int, int] = (1, 28, 28),
                 base_channels: int = 64, depth: int = 2, conditioning: str = "concat",
                 classify: bool = False) -> None:
        super().__init__()
        if conditioning not in ("concat", "projection"):
            raise ValueError(f"conditioning must be 'concat' or 'projection', got {conditioning!r}")
        self.num_classes, self.img_shape, self.base_channels = num_classes, tuple(img_shape), base_channels
        self.depth, self.conditioning, self.classify = depth, conditioning, classify
        side = img_shape[1] // 2**depth
        if depth < 1 or side < 1:
            raise ValueError(f"depth must be at least 1 and leave a map of at least 1x1, got {depth}")
        c, last = base_channels, 2 ** (depth - 1) * base_channels
        extra = num_classes if conditioning == "concat" else 0
        self.body = nn.Sequential(
            downsample_block(img_shape[0] + extra, c, batch_norm=False),
            *(downsample_block(2 ** (i - 1) * c, 2**i * c) for i in range(1, depth)),
        )
        self.out = nn.Conv2d(last, 1, side)
        self.embed = nn.Embedding(num_classes, last) if conditioning == "projection" else None
        self.class_head = nn.Conv2d(last, num_classes, side) if classify else None
        init_dcgan_weights(self)
        if self.embed is not None:  # the projection starts at nothing: D begins as an unconditional one
            nn.init.zeros_(self.embed.weight)

    def features(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.conditioning == "concat":
            y = one_hot(labels, self.num_classes)[:, :, None, None].expand(-1, -1, *x.shape[2:])
            x = torch.cat([x, y], dim=1)
        return self.body(x)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.judge(x, Latents(z=x.new_zeros(x.shape[0], 0), labels=labels)).logits

    def judge(self, x: torch.Tensor, latents: Latents) -> Judgement:
        """D sees each image with its label: a real digit's own, a generated one's drawn from the prior."""
        if latents.labels is None:
            raise ValueError("CganDiscriminator needs labels")
        h = self.features(x, latents.labels)
        logits = self.out(h).flatten()
        if self.embed is not None:
            # <embed(y), phi(x)> with phi the last feature maps averaged over their positions
            logits = logits + (self.embed(latents.labels) * h.mean(dim=(2, 3))).sum(dim=1)
        class_logits = self.class_head(h).flatten(1) if self.class_head is not None else None
        return Judgement(logits, class_logits=class_logits)
