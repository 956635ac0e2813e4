"""Datasets in the MNIST IDX format: the bundled mnist-10k, full MNIST (downloaded), Fashion-MNIST.

    images, labels = load_dataset("mnist-10k", "train")   # uint8 (N, 1, 28, 28), int64 (N,)
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import urllib.request
from pathlib import Path

import numpy as np
import torch

from models.files import REPO_ROOT

BUNDLED_DIR = REPO_ROOT / "data" / "mnist-10k"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
MNIST_MIRROR = "https://storage.googleapis.com/cvdf-datasets/mnist/"
# md5 of the official MNIST files (as published with the torchvision dataset).
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
DATASETS = ("mnist-10k", "mnist", "fashion-mnist")
# The classes' names, by label index, for the datasets whose labels are not digits (written into the cards, where
# the service reads them: `"label": "sneaker"`). Zalando's names, lower case.
CLASS_NAMES: dict[str, list[str]] = {
    "fashion-mnist": ["t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                      "ankle boot"],
}
SPLIT_PREFIX = {"train": "train", "test": "t10k"}


class DataError(RuntimeError):
    """Missing or corrupt data; the message names the file."""


def read_idx(path: Path) -> np.ndarray:
    """Reads a (gzipped) IDX file: magic 2051 for images (N, rows, cols), 2049 for labels (N,)."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: not a readable gzip file ({e})") from None
    if len(raw) < 8:
        raise DataError(f"{path}: too short for an IDX header")
    magic, count = struct.unpack(">II", raw[:8])
    if magic == 2049:
        shape, offset = (count,), 8
    elif magic == 2051:
        rows, cols = struct.unpack(">II", raw[8:16])
        shape, offset = (count, rows, cols), 16
    else:
        raise DataError(f"{path}: bad IDX magic number {magic} (expected 2049 or 2051)")
    expected = offset + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(f"{path}: {len(raw)} bytes, the header promises {expected}")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def download_mnist(cache_dir: Path, mirror: str = MNIST_MIRROR, checksums: dict[str, str] | None = None) -> Path:
    """Fetches the four MNIST files into ``cache_dir`` (once), checking each against its md5."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    for name, expected in (checksums or MNIST_MD5).items():
        target = cache_dir / name
        if target.is_file() and md5(target) == expected:
            continue
        url = mirror.rstrip("/") + "/" + name
        tmp = target.with_name(target.name + ".part")
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
                out.write(response.read())
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise DataError(f"{url}: download failed ({e}); pass --data-dir with the IDX files") from None
        if (got := md5(tmp)) != expected:
            tmp.unlink()
            raise DataError(f"{url}: md5 {got} does not match the expected {expected}")
        os.replace(tmp, target)
    return cache_dir


def default_cache_dir() -> Path:
    return Path(os.environ.get("GAN_DATA_CACHE", Path.home() / ".cache" / "gan-studio")) / "mnist"


def dataset_dir(name: str, data_dir: str | Path | None = None) -> Path:
    """Where the IDX files of ``name`` are: ``data_dir`` if given, else the dataset's usual place."""
    if data_dir is not None:
        return Path(data_dir)
    if name == "mnist-10k":
        return BUNDLED_DIR
    if name == "fashion-mnist":
        if not FASHION_DIR.is_dir():
            raise DataError(f"{FASHION_DIR}: not found; `apt-get install dataset-fashion-mnist` or pass --data-dir")
        return FASHION_DIR
    if name == "mnist":
        return download_mnist(default_cache_dir(), os.environ.get("MNIST_MIRROR", MNIST_MIRROR))
    raise DataError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")


def find_file(directory: Path, stem: str) -> Path:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    raise DataError(f"{directory / (stem + '.gz')}: file not found")


def load_dataset(
    name: str, split: str = "train", data_dir: str | Path | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images, labels)``: uint8 images of shape (N, 1, 28, 28) and int64 labels."""
    directory = dataset_dir(name, data_dir)
    prefix = SPLIT_PREFIX[split]
    images_path = find_file(directory, f"{prefix}-images-idx3-ubyte")
    labels_path = find_file(directory, f"{prefix}-labels-idx1-ubyte")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1:
        raise DataError(f"{images_path}: expected an image file and a label file")
    if len(images) != len(labels):
        raise DataError(f"{labels_path}: {len(labels)} labels for {len(images)} images in {images_path.name}")
    return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 pixels to floats in [-1, 1], the generators' output range."""
    return images.float().div(127.5).sub(1.0)


def held_out_split(labels: torch.Tensor, share: float = 0.1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(training rows, held-out rows)`` of a data set without a test split of its own: ``share`` of each class
    held out (at least one image of a class with two or more), drawn with ``seed``; the same rows every time."""
    gen = torch.Generator().manual_seed(seed)
    train, test = [], []
    for c in torch.unique(labels):
        rows = torch.nonzero(labels == c).flatten()
        rows = rows[torch.randperm(len(rows), generator=gen)]
        k = max(1, round(share * len(rows))) if len(rows) > 1 else 0
        test.append(rows[:k])
        train.append(rows[k:])
    return torch.cat(train).sort().values, torch.cat(test).sort().values
