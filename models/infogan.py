"""InfoGAN (Chen et al. 2016): G takes z plus a categorical code and continuous codes; Q recovers them.

Q shares D's convolutional body and has its own head; D itself sees only the image.
"""

from __future__ import annotations

import torch
from torch import nn

from models.common import (
    Discriminator,
    Generator,
    Judgement,
    Latents,
    MinibatchStd,
    downsample_block,
    init_dcgan_weights,
    upsampling_body,
    upsampling_plan,
)


class InfoganGenerator(Generator):
    """The paper's MNIST generator, with the 1024-unit layer left out to keep the checkpoint small."""

    family = "infogan"

    def __init__(self, z_dim: int = 62, num_categories: int = 10, num_continuous: int = 2,
                 img_shape: tuple[int, int, int] = (1, 28, 28), base_channels: int = 64,
                 refine: bool = False) -> None:
        super().__init__()
        self.z_dim, self.num_categories, self.num_continuous = z_dim, num_categories, num_continuous
        self.img_shape, self.base_channels, self.refine = tuple(img_shape), base_channels, refine
        c = base_channels
        side, ups = upsampling_plan(img_shape[1])
        first = c * 2 ** (ups - 1)  # 2c at 28 pixels
        self.project = nn.Sequential(
            nn.Linear(z_dim + num_categories + num_continuous, first * side * side, bias=False),
            nn.BatchNorm1d(first * side * side),
            nn.ReLU(True),
            nn.Unflatten(1, (first, side, side)),
        )
        # ``refine``: the last upsampling keeps c maps and a stride-1 convolution draws the image
        self.net = nn.Sequential(*upsampling_body(first, ups, img_shape[0], refine, refine_keeps=True))
        init_dcgan_weights(self)

    def forward(self, latents: Latents) -> torch.Tensor:
        if latents.categories is None or latents.codes is None:
            raise ValueError("InfoganGenerator needs categories and codes")
        x = torch.cat([latents.z, latents.category_rows(self.num_categories), latents.codes], dim=1)
        return self.net(self.project(x))


class InfoganDiscriminator(Discriminator):
    """Shared body; ``forward`` returns D's logit, Q's category logits and Q's continuous-code means."""

    def __init__(self, num_categories: int = 10, num_continuous: int = 2,
                 img_shape: tuple[int, int, int] = (1, 28, 28), base_channels: int = 64,
                 hidden: int = 256, minibatch_std: bool = False, depth: int = 2) -> None:
        super().__init__()
        self.num_categories, self.num_continuous = num_categories, num_continuous
        self.img_shape, self.base_channels, self.hidden = tuple(img_shape), base_channels, hidden
        self.minibatch_std, self.depth = minibatch_std, depth
        c, side = base_channels, img_shape[1] // 2**depth  # depth strided layers (2 at 28 pixels, 4 at 64)
        if depth < 1 or side < 1:
            raise ValueError(f"depth must be at least 1 and leave a map of at least 1x1, got {depth}")
        width = 2 ** (depth - 1) * c
        self.body = nn.Sequential(
            downsample_block(img_shape[0], c, batch_norm=False),
            *(downsample_block(2 ** (i - 1) * c, 2**i * c) for i in range(1, depth)),
            nn.Flatten(),
            nn.Linear(width * side * side, hidden, bias=False),
            nn.BatchNorm1d(hidden),
            nn.LeakyReLU(0.2, True),
        )
        # D's head may also see the batch's spread, so that a category drawn twice as often as its digit
        # occurs (two categories making 1s, say) shows; Q reads the image's own features only.
        self.d_head = nn.Sequential(MinibatchStd(), nn.Linear(hidden + 1, 1)) if minibatch_std else nn.Linear(hidden, 1)
        self.q_head = nn.Sequential(
            nn.Linear(hidden, 128, bias=False),
            nn.BatchNorm1d(128),
            nn.LeakyReLU(0.2, True),
            nn.Linear(128, num_categories + num_continuous),
        )
        init_dcgan_weights(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.body(x)
        q = self.q_head(h)
        return self.d_head(h).flatten(), q[:, : self.num_categories], q[:, self.num_categories :]

    def judge(self, x: torch.Tensor, latents: Latents) -> Judgement:
        return Judgement(*self(x))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Q alone: the category logits and the continuous codes' means for images x in [-1, 1].

        >>> cat_logits, codes = D.encode(images)   # (n, num_categories), (n, num_continuous)
        """
        q = self.q_head(self.body(x))
        return q[:, : self.num_categories], q[:, self.num_categories :]
