"""The dataset tool on a folder of 100,000 images: its time and the peak resident memory of the whole process tree
(the tool and its worker processes, summed, sampled every 0.1 s from /proc), on every core.

    python -m bench.dataset_bench --images 100000 --size 64          # writes the folder under /tmp first
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def make_folder(root: Path, count: int, classes: int = 10) -> None:
    """``count`` 96 x 80 PNGs of coloured shapes, in ``classes`` sub-folders (small files, as drawings are)."""
    rng = np.random.default_rng(0)
    for k in range(classes):
        (root / f"class-{k}").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        img = Image.new("RGB", (96, 80), tuple(int(v) for v in rng.integers(0, 256, 3)))
        x, y = (int(v) for v in rng.integers(0, 60, 2))
        ImageDraw.Draw(img).ellipse((x, y, x + 30, y + 20), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        img.save(root / f"class-{i % classes}" / f"{i:06d}.png", compress_level=1)


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return total / 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root, out = Path(tmp) / "folder", Path(tmp) / "out"
        t0 = time.monotonic()
        make_folder(root, args.images)
        print(f"wrote {args.images} PNGs in {time.monotonic() - t0:.0f} s", flush=True)
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "training.dataset", str(root), "--size", str(args.size),
                                 "--out", str(out)], cwd=Path(__file__).resolve().parent.parent)
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, tree_rss_mb(proc.pid))
            time.sleep(0.1)
        seconds = time.monotonic() - start
        size_mb = (out / "dataset.safetensors").stat().st_size / 1e6
        print(f"{args.images} images to {args.size}x{args.size} on {os.cpu_count()} cores: {seconds:.0f} s "
              f"({args.images / seconds:.0f} images/s), peak resident memory of the tool and its workers "
              f"{peak:.0f} MB, dataset file {size_mb:.0f} MB, exit {proc.returncode}")


if __name__ == "__main__":
    main()
