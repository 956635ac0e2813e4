"""How fast the service's PNG writer is against Pillow, on real generated digits, in one run.

    python -m bench.png_bench            # dcgan-mnist and gan-mnist, 256 digits each

Per single 28 x 28 digit and per 256-digit grid: microseconds and bytes for Pillow as the service used it
(compress_level=1), Pillow with its defaults, the same minimal writer on the standard library's zlib, and
models.images.png_bytes (filter 0, zlib-ng level 1). Every output is decoded by Pillow and compared to the pixels.
"""

from __future__ import annotations

import argparse
import io
import time
import zlib

import numpy as np
from PIL import Image

from app.config import Settings
from app.runner import Runner
from models import Generator
from models.checkpoint import load_checkpoint
from models.images import PNG_END, grid_array, png_bytes, png_chunk, png_head


def pillow(array: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array).save(buffer, format="PNG", **options)
    return buffer.getvalue()


def stdlib_zlib(array: np.ndarray) -> bytes:
    height, width, channels = array.shape
    rows = np.zeros((height, 1 + width * channels), np.uint8)
    rows[:, 1:] = array.reshape(height, width * channels)
    return png_head(height, width, channels) + png_chunk(b"IDAT", zlib.compress(rows.data, 1)) + PNG_END


WRITERS = {"pillow level 1": lambda a: pillow(a, compress_level=1), "pillow defaults": pillow,
           "stdlib zlib level 1": stdlib_zlib, "png_bytes (zlib-ng level 1)": png_bytes}


def timed(write, pictures: list[np.ndarray], rounds: int) -> tuple[float, float]:
    """(microseconds per picture, mean bytes), after checking each picture decodes to its pixels."""
    for picture in pictures:
        decoded = np.asarray(Image.open(io.BytesIO(write(picture))))
        assert (decoded.reshape(picture.shape) == picture).all()
    start = time.perf_counter()
    size = sum(len(write(picture)) for _ in range(rounds) for picture in pictures)
    count = rounds * len(pictures)
    return (time.perf_counter() - start) / count * 1e6, size / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="dcgan-mnist,gan-mnist")
    args = parser.parse_args()
    settings = Settings()
    runner = Runner(settings)
    for model in args.models.split(","):
        G, _ = load_checkpoint(settings.checkpoint_dir / model, "cpu", expected_class=Generator)
        digits = runner.forward_fn(G)(G.latents_for_seeds(range(256)))
        print(f"{model}: | writer | one digit us | bytes | 256-digit grid us | bytes |")
        base = None
        for name, write in WRITERS.items():
            one_us, one_bytes = timed(write, list(digits), 8)
            grid_us, grid_bytes = timed(write, [grid_array(digits)], 20)
            base = base or (one_us, grid_us)
            print(f"| {name} | {one_us:.1f} ({base[0] / one_us:.2f}x) | {one_bytes:.0f} | "
                  f"{grid_us:.0f} ({base[1] / grid_us:.2f}x) | {grid_bytes:.0f} |")
    runner.stop()


if __name__ == "__main__":
    main()
