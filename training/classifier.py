"""Trains the project's digit classifier, the judge behind the evaluation metrics.

    python -m training.classifier                      # -> checkpoints/classifier-mnist.*
    python -m training.classifier --epochs 2 --checkpoint-dir /tmp/ck
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm import tqdm

from models import DigitClassifier
from models.checkpoint import save_checkpoint
from models.runtime import available_cpus, pick_device
from training.data import load_dataset, to_unit_range
from training.train import device_description


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shifts each image by up to ``max_shift`` pixels in each direction (zero-padded: background)."""
    n, _, h, w = x.shape
    padded = F.pad(x, [max_shift] * 4, value=-1.0)
    dx, dy = (torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator)).tolist()
    return torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])


@torch.inference_mode()
def predict(model: DigitClassifier, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Predicted digit for each image in [-1, 1]."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model(images[i : i + batch_size].to(device)).argmax(1).cpu()
                      for i in range(0, len(images), batch_size)])


def train_classifier(dataset: str, epochs: int, seed: int, device: torch.device,
                     checkpoint_dir: Path, data_dir: str | None = None) -> dict[str, Any]:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x, y = load_dataset(dataset, "train", data_dir)
    x_test, y_test = load_dataset(dataset, "test", data_dir)
    x, x_test = to_unit_range(x), to_unit_range(x_test)
    model = DigitClassifier(img_shape=tuple(x.shape[1:])).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    batch = 128
    steps = epochs * (len(x) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        for i in tqdm(range(len(x) // batch), desc=f"classifier epoch {epoch + 1}/{epochs}", leave=False, disable=None):
            idx = order[i * batch : (i + 1) * batch]
            xb = random_shift(x[idx], 2, gen).to(device)
            loss = F.cross_entropy(model(xb), y[idx].to(device), label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        acc = (predict(model, x_test) == y_test).float().mean().item()
        print(f"classifier epoch {epoch + 1}/{epochs}: loss {loss.item():.3f}, test accuracy {acc:.4f}", flush=True)
    card = {
        "kind": "classifier",
        "dataset": dataset,
        "image_size": x.shape[-1],
        "channels": x.shape[1],
        "epochs": epochs,
        "seed": seed,
        "training_time_s": round(time.perf_counter() - t0, 1),
        "device": device_description(device),
        "metrics": {"test_accuracy": round(acc, 4), "test_images": len(x_test)},
    }
    return save_checkpoint(model.cpu(), checkpoint_dir / f"classifier-{dataset.removesuffix('-10k')}", card)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="mnist-10k")
    parser.add_argument("--data-dir")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--checkpoint-dir", type=Path, default=Path("checkpoints"))
    args = parser.parse_args(argv)
    torch.set_num_threads(available_cpus())
    card = train_classifier(args.dataset, args.epochs, args.seed, pick_device(args.device), args.checkpoint_dir,
                            args.data_dir)
    print(f"wrote {args.checkpoint_dir / card['name']}: test accuracy {card['metrics']['test_accuracy']}")


if __name__ == "__main__":
    main()
