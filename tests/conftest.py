import gzip
import json
import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


CHECKPOINTS = Path(os.environ.get("TEST_CHECKPOINT_DIR", str(REPO_ROOT / "checkpoints")))


@pytest.fixture(scope="module")
def shipped_client():
    """The app in-process (no HTTP server) on the shipped checkpoints, one per test module."""
    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.main import create_app

    with TestClient(create_app(Settings(checkpoint_dir=CHECKPOINTS, log_level="warning"))) as client:
        yield client


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
