"""Trains the project's digit classifier, the judge behind the evaluation metrics.

    python -m training.classifier                      # -> checkpoints/classifier-mnist.*
    python -m training.classifier --epochs 2 --checkpoint-dir /tmp/ck
    python -m training.classifier --data data/emoji-64 --epochs 40   # -> checkpoints/classifier-emoji-64.*

A data set made by the dataset tool (``--data``) has no test split of its own: a tenth of each class is held out
(``training.data.held_out_split``, seed 0: the same rows every time) and the classifier's accuracy on it is in its
card. The loss weighs each class by the inverse of its share, so that a small class counts as much as a large one.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm import tqdm

from models import DigitClassifier
from models.checkpoint import load_checkpoint, save_checkpoint, update_card
from models.runtime import available_cpus, pick_device
from training.data import CLASS_NAMES, DataError, held_out_split, load_dataset, to_unit_range
from training.dataset import read as read_dataset
from training.train import device_description


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shifts each image by up to ``max_shift`` pixels in each direction (the border repeated: background)."""
    n, _, h, w = x.shape
    padded = F.pad(x, [max_shift] * 4, mode="replicate")
    dx, dy = (torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator)).tolist()
    return torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])


@torch.inference_mode()
def predict(model: DigitClassifier, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Predicted digit for each image in [-1, 1]."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model(images[i : i + batch_size].to(device)).argmax(1).cpu()
                      for i in range(0, len(images), batch_size)])


@dataclass(frozen=True)
class LabelledImages:
    """A classifier's training and held-out images (uint8, N x C x H x W) with their labels."""

    name: str
    train: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    class_names: list[str] | None


def held_out_metrics(model: DigitClassifier, x_test: torch.Tensor, y_test: torch.Tensor, classes: int) -> dict:
    """Accuracy on the held-out images (in [-1, 1]): overall, for each class, and their mean (balanced)."""
    right = predict(model, x_test) == y_test
    per_class = [round(right[y_test == c].float().mean().item(), 4) if (y_test == c).any() else None
                 for c in range(classes)]
    seen = [a for a in per_class if a is not None]
    return {"test_accuracy": round(right.float().mean().item(), 4),
            "test_balanced_accuracy": round(sum(seen) / len(seen), 4), "test_accuracy_per_class": per_class,
            "test_images": len(y_test)}


def labelled_images(dataset: str = "mnist-10k", data: str | Path | None = None,
                    data_dir: str | None = None) -> LabelledImages:
    """An IDX data set's own train and test splits, or a dataset-tool data set with a tenth of each class held out."""
    if data is None:
        train, test = load_dataset(dataset, "train", data_dir), load_dataset(dataset, "test", data_dir)
        return LabelledImages(dataset, train, test, CLASS_NAMES.get(dataset))
    ds = read_dataset(data)
    images, labels = ds.tensors()
    if labels is None or len(ds.class_names or []) < 2:
        raise DataError(f"{data}: a classifier needs at least two classes (class sub-folders or a CSV of labels)")
    train, test = held_out_split(labels)
    return LabelledImages(ds.name, (images[train], labels[train]), (images[test], labels[test]), ds.class_names)


def train_classifier(dataset: str, epochs: int, seed: int, device: torch.device,
                     checkpoint_dir: Path, data_dir: str | None = None,
                     data: str | Path | None = None, batch_size: int = 128) -> dict[str, Any]:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    sets = labelled_images(dataset, data, data_dir)
    (x, y), (x_test, y_test) = sets.train, sets.test
    x, x_test = to_unit_range(x), to_unit_range(x_test)
    classes = len(sets.class_names) if sets.class_names else 10
    counts = torch.bincount(y, minlength=classes).clamp(min=1).float()
    weights = (len(y) / (classes * counts)).to(device)  # balanced: each class weighs as much in the loss
    shift = max(2, x.shape[-1] // 16)
    model = DigitClassifier(classes, img_shape=tuple(x.shape[1:])).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    batch = min(batch_size, len(x))
    steps = epochs * (len(x) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        for i in tqdm(range(len(x) // batch), desc=f"classifier epoch {epoch + 1}/{epochs}", leave=False, disable=None):
            idx = order[i * batch : (i + 1) * batch]
            xb = random_shift(x[idx], shift, gen).to(device)
            loss = F.cross_entropy(model(xb), y[idx].to(device), weight=weights, label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        held_out = held_out_metrics(model, x_test, y_test, classes)
        print(f"classifier epoch {epoch + 1}/{epochs}: loss {loss.item():.3f}, test accuracy "
              f"{held_out['test_accuracy']:.4f} (balanced {held_out['test_balanced_accuracy']:.4f})", flush=True)
    card = {
        "kind": "classifier",
        "dataset": sets.name,
        **({"class_names": sets.class_names} if sets.class_names else {}),
        **({"data": str(data), "held_out": "a tenth of each class (training.data.held_out_split, seed 0)"}
           if data is not None else {}),
        "image_size": x.shape[-1],
        "channels": x.shape[1],
        "epochs": epochs,
        "seed": seed,
        "training_time_s": round(time.perf_counter() - t0, 1),
        "device": device_description(device),
        "metrics": held_out,
    }
    return save_checkpoint(model.cpu(), checkpoint_dir / f"classifier-{sets.name.removesuffix('-10k')}", card)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="mnist-10k")
    parser.add_argument("--data-dir")
    parser.add_argument("--data", help="a data set made by python -m training.dataset (its folder), with labels")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--checkpoint-dir", type=Path, default=Path("checkpoints"))
    parser.add_argument("--measure", type=Path, help="measure this trained classifier on its held-out images again "
                        "and write the figures into its card, instead of training")
    args = parser.parse_args(argv)
    torch.set_num_threads(available_cpus())
    if args.measure is not None:
        model, card = load_checkpoint(args.measure, expected_class=DigitClassifier)
        sets = labelled_images(card["dataset"], card.get("data"), args.data_dir)
        x_test, y_test = sets.test
        held_out = held_out_metrics(model, to_unit_range(x_test), y_test, model.num_classes)
        update_card(args.measure, metrics=card.get("metrics", {}) | held_out)
        print(f"{args.measure}: {held_out}")
        return
    card = train_classifier(args.dataset, args.epochs, args.seed, pick_device(args.device), args.checkpoint_dir,
                            args.data_dir, args.data)
    print(f"wrote {args.checkpoint_dir / card['name']}: test accuracy {card['metrics']['test_accuracy']}")


if __name__ == "__main__":
    main()
