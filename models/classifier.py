"""The project's own digit classifier, used to judge generated samples (label accuracy, Frechet distance)."""

from __future__ import annotations

import torch
from torch import nn


class DigitClassifier(nn.Module):
    """A small CNN; ``features`` gives the penultimate activations the Frechet distance is computed on."""

    family = "classifier"

    def __init__(self, num_classes: int = 10, img_shape: tuple[int, int, int] = (1, 28, 28),
                 feature_dim: int = 128) -> None:
        super().__init__()
        self.num_classes, self.img_shape, self.feature_dim = num_classes, tuple(img_shape), feature_dim

        def conv(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]

        # larger images are judged at 32 pixels (averaged down first): a group of emoji shows at that size, and it
        # keeps the classifier quick to train on two cores
        scale = max(1, img_shape[1] // 32)
        self.body = nn.Sequential(
            *([nn.AvgPool2d(scale)] if scale > 1 else []),
            *conv(img_shape[0], 32), *conv(32, 32), nn.MaxPool2d(2),
            *conv(32, 64), *conv(64, 64), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * (img_shape[1] // scale // 4) * (img_shape[2] // scale // 4), feature_dim),
            nn.ReLU(True),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(feature_dim, num_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features of images in [-1, 1]."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))
