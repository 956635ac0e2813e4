"""Request validation against a model: what pydantic's schemas cannot know (the model's classes, codes and z size,
the response's size). Each check returns the resolved values and leaves the request as it was; a failure is an
``ApiError`` naming the field and the limit.

    conditions = resolve_conditions(model, req)        # "sneaker" -> Conditions(labels=7)
    G.latents_for_seeds(seeds, **conditions.kwargs())
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from app.config import Settings
from app.errors import ApiError, clip
from app.registry import LoadedModel
from app.schemas import MAX_SEED, Conditioning, GenerateRequest
from models import Generator
from models.images import grid_layout


def name_key(name: str) -> str:
    """How a class name is matched: case, spaces, hyphens and underscores do not matter ("Ankle_Boot")."""
    return re.sub(r"[\s_-]+", "", name.casefold())


def label_index(model: LoadedModel, value: int | str, field: str) -> int:
    """A label given by index or by class name ("sneaker"; also either half of "t-shirt/top") as its index,
    checked against the model's number of classes."""
    G = model.G
    if not isinstance(value, int):
        value = unicodedata.normalize("NFKC", value).strip()  # fullwidth digits and letters as their ASCII forms
    if isinstance(value, int):
        index = value
    elif value.isascii() and value.isdecimal():
        index = int(value)
    else:
        names = model.class_names
        if not names:
            raise ApiError(422, f"model {model.name!r} has no class names: give the label as a number from 0 to "
                           f"{G.num_classes - 1}, got {clip(value)!r}", field)
        key = name_key(value)
        for i, name in enumerate(names):
            if key == name_key(name) or key in (name_key(part) for part in name.split("/")):
                return i
        raise ApiError(422, f"label {clip(value)!r} is not a class of model {model.name!r}; its classes: "
                       f"{names} (or their indices 0 to {len(names) - 1})", field)
    if index >= G.num_classes:
        raise ApiError(422, f"label must be between 0 and {G.num_classes - 1}, got {index}", field)
    return index


@dataclass(frozen=True)
class Conditions:
    """A request's conditioning, resolved against its model: labels as indices (one for every row, or one per
    row), InfoGAN's category and codes; None for what the request leaves to each seed."""

    labels: int | tuple[int, ...] | None = None
    category: int | None = None
    codes: tuple[float, ...] | None = None

    def kwargs(self) -> dict[str, Any]:
        """As ``Generator.latents_for_seeds``' arguments."""
        return {"labels": self.labels, "categories": self.category, "codes": self.codes}


def resolve_conditions(model: LoadedModel, c: Conditioning, labels: Sequence[int | str] | None = None
                       ) -> Conditions:
    """Checks the conditional inputs of ``c`` (and a per-row ``labels`` list) against the model."""
    G, name = model.G, model.name
    if (c.label is not None or labels is not None) and not G.num_classes:
        raise ApiError(422, f"model {name!r} takes no label (it is not class-conditional)", "label")
    resolved: int | tuple[int, ...] | None = None
    if c.label is not None:
        resolved = label_index(model, c.label, "label")
    if labels is not None:
        resolved = tuple(label_index(model, v, f"labels.{i}") for i, v in enumerate(labels))
    if c.category is not None:
        if not G.num_categories:
            raise ApiError(422, f"model {name!r} has no categorical code", "category")
        if c.category >= G.num_categories:
            raise ApiError(422, f"category must be between 0 and {G.num_categories - 1}, got {c.category}",
                           "category")
    if c.codes is not None:
        if not G.num_continuous:
            raise ApiError(422, f"model {name!r} has no continuous codes", "codes")
        check_codes(G, c.codes)
    return Conditions(resolved, c.category, None if c.codes is None else tuple(c.codes))


def check_codes(G: Generator, codes: Sequence[float]) -> None:
    if len(codes) != G.num_continuous:
        raise ApiError(422, f"codes must have {G.num_continuous} values, got {len(codes)}", "codes")


def check_output(settings: Settings, G: Generator, n: int, fmt: str, columns: int | None, scale: int,
                 field: str) -> None:
    """Refuses, before any work, a response over GAN_MAX_IMAGES images or GAN_MAX_OUTPUT_PIXELS pixels;
    ``field`` names what makes the count (n, steps, rows)."""
    s = settings
    if n > s.max_images:
        raise ApiError(422, f"the response would hold {n} images; at most {s.max_images} (GAN_MAX_IMAGES)", field)
    _, h, w = G.img_shape
    if fmt == "npy":
        scale = 1  # raw pixels: no enlargement
    if fmt == "png":
        _, height, width = grid_layout(n, h, w, columns)
        size = f"a {width * scale}x{height * scale} PNG"
    else:
        height, width = h, n * w
        size = f"{n} images of {w * scale}x{h * scale}"
    pixels = height * width * scale * scale
    if pixels > s.max_output_pixels:
        raise ApiError(
            422, f"the response would be {size}, {pixels / 1e6:.1f} megapixels; at most "
            f"{s.max_output_pixels / 1e6:g} megapixels (GAN_MAX_OUTPUT_PIXELS): lower scale or ask for fewer "
            "images", "scale" if scale > 1 else field)


def z_vector(G: Generator, z: Sequence[float], field: str) -> torch.Tensor:
    if len(z) != G.z_dim:
        raise ApiError(422, f"z must have {G.z_dim} values for this model, got {len(z)}", field)
    return torch.tensor(z, dtype=torch.float32)


@dataclass(frozen=True)
class Generation:
    """A POST /generate (or sample.png) request resolved against its model: every image's seed and the
    conditioning."""

    seeds: list[int]
    conditions: Conditions


def resolve_generate(settings: Settings, model: LoadedModel, req: GenerateRequest, random_seed: int) -> Generation:
    """``random_seed`` is the first seed when the request names none."""
    check_output(settings, model.G, req.n, req.format, req.columns, req.scale, "seeds" if req.seeds else "n")
    conditions = resolve_conditions(model, req, req.labels)
    seed = random_seed if req.seed is None else req.seed
    if req.seeds is None and seed + req.n - 1 > MAX_SEED:
        raise ApiError(422, f"seed + n - 1 must be at most {MAX_SEED}", "seed")
    return Generation(req.seeds or list(range(seed, seed + req.n)), conditions)
