"""Measures the generator of finished (or stopped) run folders with the evaluator, without exporting a checkpoint:
the weight average that training exports, or with ``--raw`` G's own last weights beside it (what the average
does). How the ablations and the EMA figures of docs/training-notes.md were made.

    .venv/bin/python scripts/run_figures.py runs/dcgan-emoji --raw --samples 5000
    .venv/bin/python scripts/run_figures.py runs/ablate-full --classifier runs/judges/classifier-emoji-32

Prints one line per generator: the run, which weights, and the figures (FD, two-sample test, copy ratio, class
shares, label accuracy).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from models import DigitClassifier  # noqa: E402
from models.checkpoint import load_checkpoint  # noqa: E402
from training.config import TrainConfig  # noqa: E402
from training.evaluate import classifier_for, evaluate_generator, training_images  # noqa: E402
from training.train import Trainer, load_state  # noqa: E402

SHOWN = ("frechet_distance", "frechet_distance_real_vs_real", "c2st_accuracy", "c2st_stderr", "c2st_real_vs_real",
         "copy_ratio", "digit_share_min", "digit_share_max", "label_accuracy")


def run_generators(run_dir: Path, raw: bool) -> list[tuple[str, torch.nn.Module, TrainConfig]]:
    saved = json.loads((run_dir / "config.json").read_text())
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    cfg = TrainConfig(**{k: tuple(v) if k == "betas" else v for k, v in saved.items() if k in known})
    images, labels = training_images(cfg.dataset, cfg.data)
    counts = None
    if cfg.family == "cgan":
        counts = torch.bincount(labels, minlength=int(labels.max()) + 1)
        cfg = dataclasses.replace(cfg, g_kwargs=cfg.g_kwargs | {"num_classes": len(counts)},
                                  d_kwargs=cfg.d_kwargs | {"num_classes": len(counts)})
    trainer = Trainer(cfg, tuple(images.shape[1:]), torch.device("cpu"), label_counts=counts)
    meta, tensors = load_state(run_dir, torch.device("cpu"))
    trainer.load_state_tensors({k: v for k, v in tensors.items() if not k.startswith("rng.")})
    found = [(f"weight average, epoch {meta['epoch']}", trainer.averaged_generator(), cfg)]
    if raw:
        found.append((f"G's own weights, epoch {meta['epoch']}", trainer.G.eval(), cfg))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--raw", action="store_true", help="also measure G's own weights (not the average)")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--classifier", type=Path, help="default: the classifier of the run's data set")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for run_dir in args.runs:
        for what, G, cfg in run_generators(run_dir, args.raw):
            dataset = Path(cfg.data).name if cfg.data else cfg.dataset
            classifier, _ = load_checkpoint(args.classifier or classifier_for(dataset), expected_class=DigitClassifier)
            m = evaluate_generator(G.requires_grad_(False), classifier, args.samples, 0, cfg.dataset, cfg.data)
            print(f"{run_dir} ({what}): " + ", ".join(f"{k} {m[k]}" for k in SHOWN if k in m), flush=True)


if __name__ == "__main__":
    main()
