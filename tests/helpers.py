"""Helpers the tests share (plain functions and constants; the fixtures are in conftest.py).

    from tests.helpers import CHECKPOINTS, tiny, write_split
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import struct
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = Path(os.environ.get("TEST_CHECKPOINT_DIR", str(REPO_ROOT / "checkpoints")))


def shipped_settings(**overrides):
    """The service's settings on the shipped checkpoints, logging warnings only."""
    from app.config import Settings

    return Settings(**({"checkpoint_dir": CHECKPOINTS, "log_level": "warning"} | overrides))


def copy_checkpoints(folder: Path, names: Iterable[str]) -> Path:
    """The shipped checkpoints ``names`` (weights and card) copied into ``folder``: an app that serves just those."""
    for name in names:
        for suffix in (".json", ".safetensors"):
            shutil.copy(CHECKPOINTS / f"{name}{suffix}", folder / f"{name}{suffix}")
    return folder


def shipped_generators() -> list[str]:
    """Every generator in the checkpoint folder (the four MNIST families and the Fashion-MNIST ones)."""
    return sorted(p.stem for p in CHECKPOINTS.glob("*.json") if json.loads(p.read_text()).get("kind") == "generator")


# Tiny models of every family: (generator kwargs, discriminator kwargs).
TINY = {
    "gan": ({"z_dim": 8, "hidden": [16, 32]}, {"hidden": [16], "pieces": 2}),
    "dcgan": ({"z_dim": 8, "base_channels": 4}, {"base_channels": 4}),
    "cgan": ({"z_dim": 8, "base_channels": 4}, {"base_channels": 4}),
    "infogan": ({"z_dim": 8, "base_channels": 4}, {"base_channels": 4, "hidden": 16}),
}


def tiny(family: str):
    """A tiny generator and discriminator of ``family``, seeded, in eval mode."""
    from models import FAMILIES

    torch.manual_seed(0)
    g_cls, d_cls = FAMILIES[family]
    g_kwargs, d_kwargs = TINY[family]
    return g_cls(**g_kwargs).eval(), d_cls(**d_kwargs).eval()


def write_idx(path: Path, array: np.ndarray) -> None:
    """``array`` as a gzipped IDX file, as MNIST ships."""
    magic = 2051 if array.ndim == 3 else 2049
    header = struct.pack(">II", magic, len(array)) + b"".join(struct.pack(">I", d) for d in array.shape[1:])
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def write_split(directory: Path, prefix: str, n: int, seed: int = 0) -> None:
    """A random MNIST-format split of ``n`` images (``prefix`` train or t10k) in ``directory``."""
    rng = np.random.default_rng(seed)
    write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
    write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))


def write_shapes(root: Path, per_class: int = 40, side: int = 28, seed: int = 0) -> Path:
    """A folder of two classes of colour images, ``circle/`` and ``square/`` (one shape of a random shade on black
    each), as a user's folder of labelled images; returns it."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    lo, hi = side // 5, side - side // 5
    for k, name in enumerate(("circle", "square")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            img = Image.new("RGB", (side, side), (0, 0, 0))
            shade = tuple(int(v) for v in rng.integers(100, 256, 3))
            draw = ImageDraw.Draw(img)
            (draw.rectangle if k else draw.ellipse)((lo, lo, hi, hi), fill=shade)
            img.save(root / name / f"{i}.png")
    return root
