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
    upsample_block,
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
        c, side = base_channels, img_shape[1] // 4
        self.project = nn.Sequential(
            nn.Linear(z_dim + num_categories + num_continuous, 2 * c * side * side, bias=False),
            nn.BatchNorm1d(2 * c * side * side),
            nn.ReLU(True),
            nn.Unflatten(1, (2 * c, side, side)),
        )
        # ``refine``: as DCGAN's, the last upsampling keeps c maps and a stride-1 convolution draws the image
        output = (
            nn.Sequential(upsample_block(c, c), nn.Conv2d(c, img_shape[0], 3, 1, 1)) if refine
            else nn.ConvTranspose2d(c, img_shape[0], 4, 2, 1)
        )
        self.net = nn.Sequential(upsample_block(2 * c, c), output, nn.Tanh())
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
                 hidden: int = 256, minibatch_std: bool = False) -> None:
        super().__init__()
        self.num_categories, self.num_continuous = num_categories, num_continuous
        self.img_shape, self.base_channels, self.hidden = tuple(img_shape), base_channels, hidden
        self.minibatch_std = minibatch_std
        c, side = base_channels, img_shape[1] // 4
        self.body = nn.Sequential(
            downsample_block(img_shape[0], c, batch_norm=False),
            downsample_block(c, 2 * c),
            nn.Flatten(),
            nn.Linear(2 * c * side * side, hidden, bias=False),
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
