"""What the GAN Studio service answers, as typed results: a ``Sample`` (one generated PIL image and its seed,
label, codes, z), a ``ModelCard`` (GET /models) and an ``Encoding`` (what InfoGAN's Q read in an image). Each is
built by ``from_json`` from the answer's JSON; keys this client does not know (a newer server's) go to ``extra``.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from PIL import Image


def decode_png(text: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(text)))
    image.load()
    return image


def split_known(cls: type, item: dict[str, Any], skip: Sequence[str] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """``item``'s keys that are fields of the dataclass ``cls``, and the rest (for ``extra``)."""
    names = {f.name for f in fields(cls)} - {"extra", *skip}
    return {k: v for k, v in item.items() if k in names}, {k: v for k, v in item.items() if k not in names}


@dataclass
class Sample:
    """One generated image and what made it."""

    image: Image.Image
    seed: int | None = None
    label: int | None = None
    label_name: str | None = None
    category: int | None = None
    codes: list[float] | None = None
    z: list[float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> Sample:
        item = dict(item)
        image = decode_png(item.pop("png"))
        known, extra = split_known(cls, item, skip=["image"])
        return cls(image=image, **known, extra=extra)


@dataclass
class ModelCard:
    """One model's card from GET /models: sizes, conditioning, training and measured quality. Keys this client
    does not know (a newer server's) are kept in ``extra``; ``card["z_dim"]`` reads like ``card.z_dim``."""

    name: str
    family: str
    image_size: int
    channels: int
    z_dim: int
    dataset: str | None = None
    num_classes: int | None = None
    num_categories: int | None = None
    num_continuous: int | None = None
    class_names: list[str] | None = None
    encoder: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    epochs: int | None = None
    steps: int | None = None
    training_time_s: float | None = None
    training_device: str | None = None
    loaded_at: str | None = None
    refused: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> ModelCard:
        known, extra = split_known(cls, item)
        return cls(**known, extra=extra)

    def __getitem__(self, key: str) -> Any:  # cards were dicts before they were typed
        if key != "extra" and key in {f.name for f in fields(self)}:
            return getattr(self, key)
        return self.extra[key]


@dataclass
class Encoding:
    """What InfoGAN's Q read in an image (POST /infogan/encode)."""

    model: str
    category: int
    probabilities: list[float]
    codes: list[float]
    seen: Image.Image  # the 28 x 28 image Q read, after MNIST-like preparation
    model_version: str
    digit: int | None = None
    digit_probabilities: list[float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> Encoding:
        item = dict(item)
        seen = decode_png(item.pop("seen"))
        known, extra = split_known(cls, item, skip=["seen"])
        return cls(seen=seen, **known, extra=extra)

    def summary(self) -> str:
        """One line: ``digit 6 (category 3, p 0.97); codes -0.12, 0.4``."""
        p = max(self.probabilities)
        what = (f"digit {self.digit} (category {self.category}, p {p:.2f})" if self.digit is not None
                else f"category {self.category} (p {p:.2f})")
        return f"{what}; codes {', '.join(f'{c:g}' for c in self.codes)}"

