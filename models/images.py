"""Images in [-1, 1] to PNG bytes and grids, with Pillow (no torchvision)."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) floats in [-1, 1] to (N, H, W, C) uint8."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def grid_array(images: torch.Tensor, columns: int | None = None, padding: int = 2) -> np.ndarray:
    """Tiles images into one (H, W, C) uint8 array, ``columns`` wide (default: near-square)."""
    arr = to_uint8(images)
    n, h, w, c = arr.shape
    columns = max(1, min(columns or int(np.ceil(np.sqrt(n))), n))
    rows = int(np.ceil(n / columns))
    out = np.zeros((rows * (h + padding) + padding, columns * (w + padding) + padding, c), np.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        out[y : y + h, x : x + w] = arr[i]
    return out


def png_bytes(array: np.ndarray, scale: int = 1) -> bytes:
    """An (H, W, C) uint8 array as PNG bytes, optionally enlarged with nearest-neighbour."""
    img = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def image_png(image: torch.Tensor, scale: int = 1) -> bytes:
    """One (C, H, W) image as PNG bytes."""
    return png_bytes(to_uint8(image[None])[0], scale)


def grid_png(images: torch.Tensor, columns: int | None = None, padding: int = 2, scale: int = 1) -> bytes:
    return png_bytes(grid_array(images, columns, padding), scale)


def save_grid(images: torch.Tensor, path: str, columns: int | None = None, scale: int = 2) -> None:
    with open(path, "wb") as f:
        f.write(grid_png(images, columns, scale=scale))
