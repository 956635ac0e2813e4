"""Exports generator checkpoints to run without torch: one ONNX file each (models/onnx.py), written atomically.

    python -m training.export cgan-mnist --format onnx                 # exports/cgan-mnist.onnx
    python -m training.export dcgan-emoji checkpoints/gan-mnist --out /tmp/onnx --pixels float

A name is a checkpoint in checkpoints/ (or extra-checkpoints/); a path names its files with or without the extension.
``--pixels uint8`` (the default) gives the service's 8-bit pixels, ``float`` the generator's values in [-1, 1], both
as (n, H, W, C).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from models import MODEL_CLASSES, Generator
from models.checkpoint import CheckpointError, checkpoint_paths, load_checkpoint, read_card
from models.files import REPO_ROOT, atomic_write_bytes

FOLDERS = (REPO_ROOT / "checkpoints", REPO_ROOT / "extra-checkpoints")
FORMATS = ("onnx",)


def find_checkpoint(name_or_path: str) -> Path:
    """The checkpoint a name (in FOLDERS) or a path stands for; CheckpointError when there is none."""
    for candidate in (Path(name_or_path), *(folder / name_or_path for folder in FOLDERS)):
        if checkpoint_paths(candidate)[1].is_file():
            return candidate
    raise CheckpointError(f"no checkpoint {name_or_path!r} (a path, or one of {', '.join(generator_names())})")


def generator_names() -> list[str]:
    """The generator checkpoints in FOLDERS, by name."""
    names = set()
    for card_path in (p for folder in FOLDERS for p in folder.glob("*.json")):
        try:
            if issubclass(MODEL_CLASSES[read_card(card_path)["class_name"]], Generator):
                names.add(card_path.stem)
        except CheckpointError:
            continue
    return sorted(names)


def export(name_or_path: str, out: Path, pixels: str = "uint8") -> Path:
    """Writes ``out/NAME.onnx`` for one generator checkpoint; returns its path."""
    from models.onnx import export_onnx

    path = find_checkpoint(name_or_path)
    G, card = load_checkpoint(path, expected_class=Generator)
    target = out / f"{checkpoint_paths(path)[0].name.removesuffix('.safetensors')}.onnx"
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, export_onnx(G, card, pixels))
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", help="checkpoint names (checkpoints/NAME) or paths")
    parser.add_argument("--format", choices=FORMATS, default="onnx")
    parser.add_argument("--out", type=Path, default=Path("exports"), help="the folder the files go to")
    parser.add_argument("--pixels", choices=["uint8", "float"], default="uint8")
    args = parser.parse_args(argv)
    try:
        import onnx  # noqa: F401 - only to say what is missing before any work
    except ImportError:
        parser.exit(1, "training.export: ONNX export needs onnx: pip install 'gan-studio[onnx]'\n")
    for name in args.checkpoints:
        try:
            target = export(name, args.out, args.pixels)
        except CheckpointError as e:
            parser.exit(1, f"training.export: {e}\n")
        print(f"{name}: {target} ({target.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
