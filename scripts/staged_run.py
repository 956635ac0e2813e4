"""Trains a preset in stages and measures the weight-averaged generator after each one: how the
2,000-sample figures in docs/training-notes.md were made.

    .venv/bin/python scripts/staged_run.py --preset dcgan-mnist --stages 20,40,60,80 --run-dir runs/try \
        --set 'g_kwargs={"z_dim": 16, "base_channels": 48, "refine": true}'

Each stage continues the run folder with --resume (which reproduces an unbroken run), so a finished run
given again only re-measures. Prints one line per stage: epoch, training seconds, FD, share of clear digits
and digit shares. Nothing is written to checkpoints/.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from models import DigitClassifier  # noqa: E402
from models.checkpoint import load_checkpoint  # noqa: E402
from training.config import PRESETS  # noqa: E402
from training.evaluate import evaluate_generator  # noqa: E402
from training.train import Trainer, train  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="dcgan-mnist", choices=sorted(PRESETS))
    parser.add_argument("--stages", required=True, help="epochs after which to measure, e.g. 20,40")
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="override a config field")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    overrides = {k: json.loads(v) for k, _, v in (item.partition("=") for item in args.set)}
    classifier, _ = load_checkpoint(REPO_ROOT / "checkpoints" / "classifier-mnist", expected_class=DigitClassifier)
    cpu = torch.device("cpu")
    for epochs in (int(s) for s in args.stages.split(",")):
        cfg = PRESETS[args.preset].with_overrides(epochs=epochs, **overrides)
        train(cfg, args.run_dir, None, cpu, resume=True)
        trainer = Trainer(cfg, (1, 28, 28), cpu)
        trainer.load_state_tensors(load_file(str(args.run_dir / "train_state.safetensors")))
        m = evaluate_generator(trainer.averaged_generator(), classifier, n=args.samples)
        elapsed = json.loads((args.run_dir / "train_state.json").read_text())["elapsed_s"]
        print(f"epoch {epochs} ({elapsed:.0f} s): FD {m['frechet_distance']:.2f}, clear {m['confident_share']:.1%}, "
              f"digit shares {m['digit_share_min']:.1%} to {m['digit_share_max']:.1%}", flush=True)


if __name__ == "__main__":
    main()
