"""Images in [-1, 1] to uint8 arrays, grids and PNG bytes, with Pillow (no torchvision)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from models.files import atomic_write_bytes


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) floats in [-1, 1] to (N, H, W, C) uint8 (the conversion runs where the tensor is)."""
    x = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def grid_layout(n: int, h: int, w: int, columns: int | None = None, padding: int = 2) -> tuple[int, int, int]:
    """``(columns, grid height, grid width)`` of a grid of ``n`` images of ``h`` x ``w`` (default: near-square)."""
    columns = max(1, min(columns or int(np.ceil(np.sqrt(n))), n))
    rows = int(np.ceil(n / columns))
    return columns, rows * (h + padding) + padding, columns * (w + padding) + padding


def grid_array(images: np.ndarray, columns: int | None = None, padding: int = 2) -> np.ndarray:
    """Tiles (N, H, W, C) uint8 images into one (H', W', C) array, ``columns`` wide (default: near-square)."""
    n, h, w, c = images.shape
    columns, height, width = grid_layout(n, h, w, columns, padding)
    out = np.zeros((height, width, c), np.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        out[y : y + h, x : x + w] = images[i]
    return out


def png_bytes(array: np.ndarray, scale: int = 1) -> bytes:
    """An (H, W, C) uint8 array as PNG bytes, optionally enlarged with nearest-neighbour."""
    img = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)  # fast; these images are tiny either way
    return buf.getvalue()


def save_grid(images: torch.Tensor, path: str, columns: int | None = None, scale: int = 2) -> None:
    """Writes a PNG grid of (N, C, H, W) images in [-1, 1]."""
    atomic_write_bytes(Path(path), png_bytes(grid_array(to_uint8(images), columns), scale))
