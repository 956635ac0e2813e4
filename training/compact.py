"""Stores a checkpoint's weights as float16: half the file, the same model once loaded (the service and the
evaluator cast them back into float32 parameters and compute as before).

    python -m training.compact checkpoints/dcgan-emoji checkpoints/cgan-emoji

The card keeps every field (its figures should be measured on the compacted weights: run training.evaluate after
this) and gains ``"weights_dtype": "float16"``; the file is replaced as one unit, as training replaces a checkpoint.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from models.checkpoint import checkpoint_paths, load_checkpoint, save_checkpoint

INHERITED = ("name", "format_version", "class_name", "family", "kwargs", "sha256", "weights_dtype")


def compact(path: Path) -> dict:
    """Rewrites ``path`` with float16 weights; returns the new card."""
    model, card = load_checkpoint(path)
    return save_checkpoint(model, path, {k: v for k, v in card.items() if k not in INHERITED},
                           weights_dtype="float16")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", type=Path)
    for path in parser.parse_args(argv).checkpoints:
        before = checkpoint_paths(path)[0].stat().st_size
        compact(path)
        after = checkpoint_paths(path)[0].stat().st_size
        print(f"{path}: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
