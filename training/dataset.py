"""The dataset tool: a folder of the user's own images (or a built-in source) made once into one dataset file that
training memory-maps. It never decodes an image twice and never trains on one it could not read.

    python -m training.dataset ~/pictures/cats --size 64 --out data/cats           # colour, centre-cropped
    python -m training.dataset ~/sketches --size 28 --grey --fit pad --out data/sketches
    python -m training.dataset ~/photos --labels labels.csv --size 32 --out data/photos   # CSV of file,label
    python -m training.dataset emoji --size 64 --out data/emoji-64                  # Noto's colour emoji (Debian)

SOURCE is a folder: images in it (PNG, JPEG, WebP, GIF's first frame, BMP; any size and mode: grey, RGB, RGBA,
palette, 16-bit, CMYK; EXIF orientation applied), and with class sub-folders, one label per sub-folder (``--labels
folders``, the default when there are sub-folders), or a CSV of ``file,label``. Each image is squared (``--fit crop``
its centre, or ``pad`` it with the background), composited on ``--background`` where it is transparent, turned grey
(``--grey``) or RGB, and resized with Lanczos to ``--size`` (28, 32, 64 or 128), on all cores, streamed: memory stays
flat however many images there are.

The result, ``OUT/dataset.safetensors``: a safetensors file (``images`` uint8 (N, H, W, C), ``labels`` int64 (N,)
when labelled) whose metadata holds the JSON header (size, channels, class names, each image's source file and
sha256, the source and its licence), written whole or not at all; and ``OUT/report.json``: every file skipped and
why (not an image, truncated, over the pixel cap, no pixels, unreadable) and the exact duplicates left out.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageOps

from models.files import atomic_write_bytes, atomic_writer

if TYPE_CHECKING:
    import torch

SIZES = (28, 32, 64, 128)
FORMATS = ["PNG", "JPEG", "WEBP", "GIF", "BMP"]
SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"}
DATASET_FILE, REPORT_FILE = "dataset.safetensors", "report.json"
FORMAT_VERSION = 1


class DatasetError(RuntimeError):
    """A dataset that cannot be made or read; the message says what is wrong."""


class Skip(ValueError):  # noqa: N818 - it is not an error: the file is left out, and the report says why
    """A file left out of the dataset, and why."""


@dataclass(frozen=True)
class Options:
    size: int = 64
    grey: bool = False
    fit: str = "crop"  # crop: the centre square; pad: the whole image on a square of the background; stretch
    background: tuple[int, int, int] = (255, 255, 255)
    max_pixels: int = 50_000_000  # a decompression bomb is refused from its header

    @property
    def channels(self) -> int:
        return 1 if self.grey else 3


@dataclass
class Report:
    """What a build did: how many images it took, and each file it left out with the reason."""

    images: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    duplicates: list[dict[str, str]] = field(default_factory=list)
    class_counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


# --- one image ------------------------------------------------------------------------------------------------
def colour(value: str) -> tuple[int, int, int]:
    """``white``, ``black`` or ``#rrggbb``."""
    named = {"white": (255, 255, 255), "black": (0, 0, 0)}
    if value in named:
        return named[value]
    if len(value) == 7 and value.startswith("#"):
        try:
            return tuple(int(value[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(f"a colour is white, black or #rrggbb, not {value!r}")


def to_rgba(img: Image.Image) -> Image.Image:
    """Any mode to RGBA: 16-bit and 32-bit grey scaled to 8 bits, CMYK converted, palette transparency kept."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or array.max() > 255 else 255.0
        img = Image.fromarray(np.clip(array / top * 255 + 0.5, 0, 255).astype(np.uint8), "L")
    elif img.mode == "F":
        img = Image.fromarray(np.clip(np.asarray(img) * 255 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("PA")
    return img.convert("RGBA")


def square(img: Image.Image, fit: str, background: tuple[int, int, int, int]) -> Image.Image:
    w, h = img.size
    if fit == "stretch" or w == h:
        return img
    if fit == "crop":
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        return img.crop((left, top, left + side, top + side))
    side = max(w, h)
    canvas = Image.new("RGBA", (side, side), background)
    canvas.paste(img, ((side - w) // 2, (side - h) // 2))
    return canvas


def prepare(data: bytes, opts: Options) -> np.ndarray:
    """One image's bytes to (size, size, channels) uint8, or ``Skip`` saying why not."""
    try:
        img = Image.open(io.BytesIO(data), formats=FORMATS)
    except Exception:  # noqa: BLE001 - whatever Pillow says, the file is not an image it reads
        raise Skip("not an image (PNG, JPEG, WebP, GIF or BMP)") from None
    w, h = img.size
    if w < 1 or h < 1:
        raise Skip(f"no pixels ({w}x{h})")
    if w * h > opts.max_pixels:
        raise Skip(f"{w}x{h} is over the pixel cap of {opts.max_pixels} (a decompression bomb?)")
    try:
        img.seek(0)  # a GIF's first frame
        img.load()
        img = ImageOps.exif_transpose(img) or img
        rgba = to_rgba(img)
    except Exception as e:  # noqa: BLE001 - truncated or corrupt data
        raise Skip(f"truncated or corrupt ({type(e).__name__})") from None
    background = (*opts.background, 255)
    rgba = square(rgba, opts.fit, background)
    flat = Image.alpha_composite(Image.new("RGBA", rgba.size, background), rgba)
    final = flat.convert("L" if opts.grey else "RGB")
    if final.size != (opts.size, opts.size):
        final = final.resize((opts.size, opts.size), Image.LANCZOS)
    array = np.asarray(final, dtype=np.uint8)
    return array[:, :, None] if opts.grey else array


def work(job: tuple[str, Options]) -> tuple[str, bytes | str]:
    """In a worker process: ``(sha256, pixels)``, or ``("", reason)`` for a file left out."""
    path, opts = job
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        return "", f"unreadable ({e.strerror or type(e).__name__})"
    try:
        return hashlib.sha256(data).hexdigest(), prepare(data, opts).tobytes()
    except Skip as e:
        return "", str(e)


# --- the source -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    files: list[tuple[Path, int | None]]  # each image file and its label index
    class_names: list[str] | None
    root: Path


def image_files(folder: Path) -> Iterator[Path]:
    yield from sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)


def find_source(root: Path, labels: str | None) -> Source:
    """The files of ``root`` and their labels: ``labels`` None (none), "folders" (one class per sub-folder), a CSV
    path (``file,label`` rows, the file relative to ``root``), or "auto" (folders if there are sub-folders)."""
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder of images")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if labels == "auto":
        labels = "folders" if folders else None
    if labels is None:
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        return Source([(p, None) for p in files], None, root)
    if labels == "folders":
        if not folders:
            raise DatasetError(f"{root}: --labels folders, but it has no sub-folders (one per class)")
        names = [f.name for f in folders]
        files = [(p, i) for i, f in enumerate(folders) for p in image_files(f)]
        return Source(files, names, root)
    table = Path(labels)
    try:
        rows = list(csv.reader(table.read_text().splitlines()))
    except OSError as e:
        raise DatasetError(f"{table}: cannot read the labels ({e.strerror})") from None
    rows = [r for r in rows if r and not (r[0] == "file" and r[1:2] == ["label"])]
    if any(len(r) != 2 for r in rows):
        raise DatasetError(f"{table}: each row must be file,label")
    names = sorted({r[1] for r in rows})
    index = {name: i for i, name in enumerate(names)}
    return Source([(root / r[0], index[r[1]]) for r in rows], names, root)


# --- the file -------------------------------------------------------------------------------------------------
def safetensors_header(header: dict[str, Any], n: int, shape: tuple[int, int, int], labelled: bool) -> bytes:
    """The safetensors header of the dataset file (tensors ``images`` then ``labels``), padded to 8 bytes."""
    pixels = n * int(np.prod(shape))
    entries: dict[str, Any] = {"__metadata__": {"dataset": json.dumps(header)},
                               "images": {"dtype": "U8", "shape": [n, *shape], "data_offsets": [0, pixels]}}
    if labelled:
        entries["labels"] = {"dtype": "I64", "shape": [n], "data_offsets": [pixels, pixels + 8 * n]}
    text = json.dumps(entries).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text


def build(source: Source, out: Path, opts: Options, workers: int | None = None, name: str | None = None,
          licence: str | None = None, description: str | None = None) -> Report:
    """Makes ``out/dataset.safetensors`` and ``out/report.json`` from ``source``; returns the report."""
    if opts.size not in SIZES:
        raise DatasetError(f"--size must be one of {SIZES}, not {opts.size}")
    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    report, seen, kept = Report(), {}, []
    labels: list[int] = []
    shape = (opts.size, opts.size, opts.channels)
    jobs = [(str(path), opts) for path, _ in source.files]
    ctx = get_context("spawn")  # workers with nothing of this process's state (torch and its threads)
    pixels_file = out / ".pixels.tmp"
    try:
        with open(pixels_file, "wb") as pixels, ctx.Pool(workers or os.cpu_count() or 1) as pool:
            for (path, label), (sha, result) in zip(source.files, pool.imap(work, jobs, chunksize=32), strict=True):
                rel = str(path.relative_to(source.root)) if path.is_relative_to(source.root) else str(path)
                if not sha:
                    report.skipped.append({"file": rel, "reason": str(result)})
                elif sha in seen:
                    report.duplicates.append({"file": rel, "same_as": seen[sha]})
                else:
                    seen[sha] = rel
                    pixels.write(result)  # type: ignore[arg-type]
                    kept.append({"file": rel, "sha256": sha})
                    if label is not None:
                        labels.append(label)
        if not kept:
            raise DatasetError(f"{source.root}: no image could be read ({len(report.skipped)} files left out; "
                               f"first: {report.skipped[:3]})")
        if source.class_names is not None:
            counts = Counter(labels)
            empty = [n for i, n in enumerate(source.class_names) if not counts[i]]
            if empty:
                raise DatasetError(f"{source.root}: the class{'es' if len(empty) > 1 else ''} {empty} "
                                   "has no image that could be read")
            report.class_counts = {n: counts[i] for i, n in enumerate(source.class_names)}
        header = {"format_version": FORMAT_VERSION, "name": name or out.name, "size": opts.size,
                  "channels": opts.channels, "count": len(kept), "class_names": source.class_names,
                  "source": description or str(source.root), "licence": licence, "options": asdict(opts),
                  "files": kept}
        with atomic_writer(out / DATASET_FILE) as f, open(pixels_file, "rb") as pixels:
            f.write(safetensors_header(header, len(kept), shape, source.class_names is not None))
            while block := pixels.read(1 << 22):
                f.write(block)
            if source.class_names is not None:
                f.write(np.asarray(labels, dtype="<i8").tobytes())
    finally:
        pixels_file.unlink(missing_ok=True)
    report.images, report.seconds = len(kept), round(time.monotonic() - started, 2)
    atomic_write_bytes(out / REPORT_FILE, (json.dumps(asdict(report), indent=1) + "\n").encode())
    return report


@dataclass
class Dataset:
    """A dataset file, memory-mapped: ``images`` uint8 (N, H, W, C), ``labels`` int64 (N,) or None."""

    images: np.ndarray
    labels: np.ndarray | None
    header: dict[str, Any]

    @property
    def class_names(self) -> list[str] | None:
        return self.header.get("class_names")

    @property
    def name(self) -> str:
        return self.header["name"]

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(images (N, C, H, W) uint8, labels int64 (N,) or None)``, copied into memory (the file is read-only)."""
        import torch  # here: the tool's workers never need it (hundreds of MB each)

        images = torch.from_numpy(np.array(self.images)).permute(0, 3, 1, 2).contiguous()
        labels = None if self.labels is None else torch.from_numpy(np.array(self.labels, dtype=np.int64))
        return images, labels


def read(path: str | Path) -> Dataset:
    """Opens ``path`` (a dataset folder, or its dataset.safetensors) without reading the pixels into memory."""
    path = Path(path)
    file = path / DATASET_FILE if path.is_dir() else path
    try:
        with open(file, "rb") as f:
            length = int.from_bytes(f.read(8), "little")
            if not 0 < length < 1 << 30:
                raise DatasetError(f"{file}: not a dataset file (header of {length} bytes)")
            entries = json.loads(f.read(length))
    except FileNotFoundError:
        raise DatasetError(f"{file}: not found; make it with python -m training.dataset SOURCE --out "
                           f"{path}") from None
    except (OSError, ValueError) as e:
        raise DatasetError(f"{file}: not a dataset file ({e})") from None
    header = json.loads(entries.get("__metadata__", {}).get("dataset", "{}"))
    if header.get("format_version") != FORMAT_VERSION or "images" not in entries:
        raise DatasetError(f"{file}: not a dataset file of format {FORMAT_VERSION}")
    start = 8 + length
    spec = entries["images"]
    images = np.memmap(file, np.uint8, "r", start + spec["data_offsets"][0], tuple(spec["shape"]))
    labels = None
    if "labels" in entries:
        spec = entries["labels"]
        labels = np.memmap(file, "<i8", "r", start + spec["data_offsets"][0], tuple(spec["shape"]))
    return Dataset(images, labels, header)


# --- the command line -----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="a folder of images, or a built-in source: emoji")
    parser.add_argument("--out", type=Path, required=True, help="the dataset's folder (data/NAME)")
    parser.add_argument("--size", type=int, default=64, choices=SIZES)
    parser.add_argument("--grey", action="store_true", help="one grey channel (default: RGB)")
    parser.add_argument("--fit", choices=["crop", "pad", "stretch"], default="crop",
                        help="crop the centre square (default), pad to a square with the background, or stretch")
    parser.add_argument("--background", type=colour, default=(255, 255, 255),
                        help="what transparent pixels and padding become: white (default), black or #rrggbb")
    parser.add_argument("--labels", default="auto", help="folders (a class per sub-folder), a CSV of file,label, "
                        "none, or auto (folders when there are sub-folders; the default)")
    parser.add_argument("--max-pixels", type=int, default=50_000_000, help="larger images are left out")
    parser.add_argument("--workers", type=int, help="processes (default: every core)")
    parser.add_argument("--licence", help="the images' licence, written into the header")
    args = parser.parse_args(argv)
    opts = Options(args.size, args.grey, args.fit, args.background, args.max_pixels)
    try:
        if args.source == "emoji":
            from training.emoji import build_emoji

            report = build_emoji(args.out, opts, args.workers)
        else:
            source = find_source(Path(args.source), None if args.labels == "none" else args.labels)
            report = build(source, args.out, opts, args.workers, licence=args.licence)
    except DatasetError as e:
        print(f"dataset: {e}", file=sys.stderr)
        return 1
    print(f"{report.images} images into {args.out / DATASET_FILE} in {report.seconds:g} s; "
          f"{len(report.skipped)} left out, {len(report.duplicates)} duplicates (see {args.out / REPORT_FILE})")
    for item in report.skipped[:10]:
        print(f"  left out {item['file']}: {item['reason']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
