"""Images in [-1, 1] to uint8 arrays, grids and PNG bytes, with Pillow (no torchvision)."""

from __future__ import annotations

import functools
import io
import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from zlib_ng import zlib_ng

from models.files import atomic_write_bytes


def pixel_tensor(images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) floats in [-1, 1] to (N, H, W, C) uint8, on the tensor's own device."""
    x = images.detach().float().clamp(-1, 1).add_(1).mul_(127.5).round_().to(torch.uint8)  # one new tensor
    return x.permute(0, 2, 3, 1)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) floats in [-1, 1] to (N, H, W, C) uint8 (the conversion runs where the tensor is)."""
    return pixel_tensor(images).cpu().numpy()


def grid_layout(n: int, h: int, w: int, columns: int | None = None, padding: int = 2) -> tuple[int, int, int]:
    """``(columns, grid height, grid width)`` of a grid of ``n`` images of ``h`` x ``w`` (default: near-square)."""
    columns = max(1, min(columns or math.isqrt(n - 1) + 1, n))  # ceil(sqrt(n)), in integers (n >= 1)
    rows = -(-n // columns)
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


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_COLOUR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type: grey, RGB, RGBA


def png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib_ng.crc32(data, zlib_ng.crc32(tag)))


PNG_END = png_chunk(b"IEND", b"")


@functools.lru_cache(maxsize=64)
def png_head(height: int, width: int, channels: int) -> bytes:
    """The signature and IHDR chunk: 8 bits per sample, no interlace."""
    return PNG_SIGNATURE + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, PNG_COLOUR_TYPES[channels],
                                                          0, 0, 0))


def png_bytes(array: np.ndarray, scale: int = 1) -> bytes:
    """An (H, W, C) uint8 array (C = 1, 3 or 4) as PNG bytes, optionally enlarged with nearest-neighbour.

    Written here rather than through Pillow: every row with filter 0 (none), the data deflated at level 1 by
    zlib-ng (zlib's format, a faster implementation). That is the PNG format's plainest valid form; a generated
    28 x 28 digit takes a sixth of the time Pillow takes at level 1 (10 vs 60 us), a 256-digit grid a fifth, with
    single digits no larger and grids 11-13% larger (docs/benchmarks.md, ``python -m bench.png_bench``).
    Pillow and browsers read them back to the same pixels.
    """
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in PNG_COLOUR_TYPES:
        raise ValueError(f"png_bytes takes (H, W, 1|3|4) uint8 arrays, not {array.dtype} {array.shape}")
    if scale > 1:
        array = array.repeat(scale, axis=0).repeat(scale, axis=1)
    height, width, channels = array.shape
    rows = np.zeros((height, 1 + width * channels), np.uint8)  # each row: its filter type (0, none), its samples
    rows[:, 1:] = array.reshape(height, width * channels)
    return (png_head(height, width, channels) + png_chunk(b"IDAT", zlib_ng.compress(rows.data, 1)) + PNG_END)


def save_grid(images: torch.Tensor, path: str, columns: int | None = None, scale: int = 2) -> None:
    """Writes a PNG grid of (N, C, H, W) images in [-1, 1]."""
    atomic_write_bytes(Path(path), png_bytes(grid_array(to_uint8(images), columns), scale))


class NoDigitError(ValueError):
    """An image with nothing drawn on it."""


def mnist_like(img: Image.Image, size: int = 28, box: int = 20) -> torch.Tensor:
    """A drawing or photo of one digit, prepared the way MNIST's digits were: grey levels, white on black,
    cropped to the ink, scaled so its longer side is ``box`` pixels, and placed in a ``size`` square with its
    centre of mass in the middle. Returns (1, 1, size, size) in [-1, 1].

    Either polarity is accepted (the background is what the border mostly is), and transparent pixels count as
    background (a canvas export). Raises NoDigitError for an image with no ink.
    """
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255
        grey = np.asarray(rgba.convert("L"), dtype=np.float32)
        opaque = grey[alpha > 0.5]
        # strokes on a transparent page: the page takes the colour the strokes are not
        page = 255.0 if opaque.size and opaque.mean() < 128 else 0.0
        grey = grey * alpha + page * (1 - alpha)
    else:
        grey = np.asarray(img.convert("L"), dtype=np.float32)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if np.median(border) > 127:  # dark ink on a light page
        grey, border = 255.0 - grey, 255.0 - border
    grey = np.clip(grey - np.median(border), 0, 255)  # the page's own grey is not ink
    if grey.max() < 32:
        raise NoDigitError("no digit found: the image has no strokes that stand out from its background")
    rows, cols = np.nonzero(grey > 0.2 * grey.max())
    crop = grey[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    h, w = crop.shape
    scale = box / max(h, w)
    small = Image.fromarray(crop.astype(np.uint8)).resize(
        (max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS)
    digit = np.asarray(small, dtype=np.float32)
    canvas = np.zeros((size, size), np.float32)
    top, left = (size - digit.shape[0]) // 2, (size - digit.shape[1]) // 2
    canvas[top : top + digit.shape[0], left : left + digit.shape[1]] = digit
    total = canvas.sum()
    if not np.isfinite(total) or total <= 0:
        raise NoDigitError("no digit found: nothing is left of the strokes at 28 x 28")
    ys, xs = np.indices(canvas.shape)
    dy = int(round(size / 2 - 0.5 - (ys * canvas).sum() / total))
    dx = int(round(size / 2 - 0.5 - (xs * canvas).sum() / total))
    canvas = np.roll(canvas, (dy, dx), axis=(0, 1))  # centre of mass to the middle (the ink stays inside: box < size)
    canvas = canvas / max(canvas.max(), 1e-6)
    return torch.from_numpy(canvas * 2 - 1)[None, None]


@dataclass(frozen=True)
class ImageLimits:
    """What one uploaded image may cost, checked from its header before any pixel is decoded: pixels, longest side,
    aspect ratio, a JPEG's scans (a progressive JPEG of thousands of scans takes tens of seconds to decode however
    small its file). ``shrink_to``: a larger image is decoded at a reduced scale where the format allows it (JPEG's
    DCT scaling) and shrunk to at most this side at once, before any work on its pixels."""

    max_pixels: int = 4_194_304
    max_side: int = 4096
    max_aspect: float = 16.0
    max_scans: int = 64
    shrink_to: int | None = 512


def decode_image(data: bytes, limits: ImageLimits) -> Image.Image:
    """Image bytes (PNG, JPEG, WebP, GIF or BMP) to a Pillow image within ``limits``. Raises ValueError saying what is
    wrong (the message follows the word "image")."""
    try:
        img = Image.open(io.BytesIO(data), formats=["PNG", "JPEG", "WEBP", "GIF", "BMP"])
    except Exception:  # noqa: BLE001 - whatever Pillow says, the answer is the same
        raise ValueError("is not an image (PNG, JPEG, WebP, GIF or BMP)") from None
    w, h = img.size
    if w < 1 or h < 1:
        raise ValueError(f"is {w}x{h}: it has no pixels")
    if max(w, h) > limits.max_side:
        raise ValueError(f"is {w}x{h}; its sides may be at most {limits.max_side} pixels (GAN_ENCODE_MAX_SIDE)")
    if max(w, h) > limits.max_aspect * min(w, h):
        raise ValueError(f"is {w}x{h}; its longer side may be at most {limits.max_aspect:g} times its shorter "
                         "(GAN_ENCODE_MAX_ASPECT)")
    if w * h > limits.max_pixels:
        raise ValueError(f"has {w}x{h} pixels; at most {limits.max_pixels} are accepted (GAN_ENCODE_MAX_PIXELS)")
    if img.format == "JPEG":
        scans = data.count(b"\xff\xda")  # start-of-scan markers (0xFF in the entropy-coded data is stuffed)
        if scans > limits.max_scans:
            raise ValueError(f"is a JPEG of {scans} scans; at most {limits.max_scans} (GAN_ENCODE_MAX_SCANS)")
        if limits.shrink_to and max(w, h) > limits.shrink_to:
            img.draft("L", (limits.shrink_to, limits.shrink_to))  # decoded at 1/2 to 1/8 scale, in grey
    try:
        img.load()
        img = ImageOps.exif_transpose(img) or img
    except Exception:  # noqa: BLE001 - a truncated or corrupt file
        raise ValueError("is not a readable image (truncated or corrupt)") from None
    if limits.shrink_to and max(img.size) > limits.shrink_to:
        img = img.convert("RGBA" if "transparency" in img.info or img.mode in ("RGBA", "LA", "PA") else "L")
        img.thumbnail((limits.shrink_to, limits.shrink_to), Image.BOX)
    return img
