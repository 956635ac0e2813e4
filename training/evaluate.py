"""Measures a generator checkpoint with the project's classifier and writes the figures into its card.

    python -m training.evaluate checkpoints/cgan-mnist
    python -m training.evaluate checkpoints/*.safetensors --samples 5000 --seed 0

Metrics: Frechet distance between classifier features of generated and real digits (with the
real-vs-real value as the reference), a classifier two-sample test (Lopez-Paz & Oquab 2017: a fresh CNN trained
on half of 4,500 real training digits and 4,500 samples, its accuracy on the other half, 0.5 when it cannot tell
them apart; with its standard error and the real-vs-real baseline), the share of samples the classifier reads
with at least 90% probability (with real digits' share as the reference), the share of each digit among samples,
CGAN label accuracy and InfoGAN category accuracy (best one-to-one matching of categories to digits); with
InfoGAN's discriminator beside it (NAME-discriminator), Q as an encoder: categories and codes recovered from
generated images, and held-out real digits read as the right digit. Sample grids go to docs/samples/.
"""

from __future__ import annotations

import argparse
import functools
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg
from scipy.optimize import linear_sum_assignment
from torch import nn

from models import DigitClassifier, Generator
from models.checkpoint import checkpoint_paths, load_checkpoint, update_card
from models.files import REPO_ROOT
from models.images import save_grid
from models.infogan import InfoganDiscriminator
from models.runtime import PRECISIONS, available_cpus
from training.data import load_dataset, to_unit_range
from training.dataset import read as read_dataset


@torch.inference_mode()
def classify(classifier: DigitClassifier, images: torch.Tensor, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """``(features, predicted digits)`` for images in [-1, 1]."""
    classifier.eval()
    device = next(classifier.parameters()).device
    feats, preds = [], []
    for i in range(0, len(images), batch_size):
        f = classifier.features(images[i : i + batch_size].to(device))
        feats.append(f.cpu())
        preds.append(classifier.head(f).argmax(1).cpu())
    return torch.cat(feats).double().numpy(), torch.cat(preds).numpy()


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (the FID formula)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():  # dead ReLU features make the product singular; handled below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(covmean).all():  # near-singular product: regularise, as the FID reference code does
        eps = np.eye(len(cov_a)) * 1e-6
        covmean = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean.real))


@torch.inference_mode()
def confident_share(classifier: DigitClassifier, features: np.ndarray, threshold: float = 0.9) -> float:
    """Share of images the classifier reads as one digit with at least ``threshold`` probability: a
    malformed digit, or one halfway between two, falls below it."""
    classifier.eval()
    device = next(classifier.parameters()).device
    probs = classifier.head(torch.from_numpy(features).float().to(device)).softmax(1)
    return round(float((probs.max(1).values >= threshold).float().mean()), 4)


def digit_shares(preds: np.ndarray, num_classes: int = 10) -> dict[str, Any]:
    shares = np.bincount(preds, minlength=num_classes) / len(preds)
    return {"digit_shares": [round(float(s), 4) for s in shares],
            "digit_share_min": round(float(shares.min()), 4), "digit_share_max": round(float(shares.max()), 4)}


def label_accuracy(preds: np.ndarray, labels: np.ndarray, num_classes: int = 10) -> dict[str, Any]:
    """The share of samples the classifier reads as the label asked for, overall and for each label."""
    right = preds == labels
    per_label = [round(float(right[labels == c].mean()), 4) if (labels == c).any() else None
                 for c in range(num_classes)]
    return {"label_accuracy": round(float(right.mean()), 4), "label_accuracy_per_class": per_label}


def category_accuracy(preds: np.ndarray, categories: np.ndarray, num_categories: int = 10) -> dict[str, Any]:
    """Accuracy under the best one-to-one matching of categories to digits (Hungarian algorithm)."""
    counts = np.zeros((num_categories, 10), dtype=np.int64)
    np.add.at(counts, (categories, preds), 1)
    rows, cols = linear_sum_assignment(-counts)
    return {"category_accuracy": round(float(counts[rows, cols].sum() / len(preds)), 4),
            "category_to_digit": [int(c) for c in cols[np.argsort(rows)]]}


@torch.inference_mode()
def generate(G: Generator, n: int, seed: int, label_counts: torch.Tensor | None = None,
             batch_size: int = 500) -> tuple[torch.Tensor, Any]:
    """``n`` samples with balanced labels/categories (i % their count), the rest drawn from the priors; with
    ``label_counts``, CGAN's labels drawn in those proportions instead."""
    gen = torch.Generator().manual_seed(seed)
    latents = G.balanced_prior(n, gen)
    if label_counts is not None and G.num_classes:
        latents.labels = torch.multinomial(label_counts.double(), n, replacement=True, generator=gen)
    weight = next(G.parameters())  # its device, and its type (float16 or bfloat16 with --precision)
    images = torch.cat([G(latents[i : i + batch_size].to(weight.device, weight.dtype)).float().cpu()
                        for i in range(0, n, batch_size)])
    return images, latents


@functools.cache
def training_images(dataset: str = "mnist-10k", data: str | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The real images a generator learnt from, in [-1, 1], and their labels: an IDX data set's training split, or
    the data set made by the dataset tool in ``data`` (a card's ``config.data``: a folder, relative to the working
    folder or the repository)."""
    if data is None:
        images, labels = load_dataset(dataset, "train")
        return to_unit_range(images), labels
    folder = Path(data)
    if not folder.is_absolute() and not folder.exists():
        folder = REPO_ROOT / folder
    images, labels = read_dataset(folder).tensors()
    return to_unit_range(images), labels


def real_reference(classifier: DigitClassifier, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Classifier features of two disjoint halves of the real training images (fixed split)."""
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    feats, _ = classify(classifier, images[order])
    half = len(feats) // 2
    return feats[:half], feats[half:]


class TwoSampleCritic(nn.Module):
    """The two-sample test's fresh classifier: a small CNN telling real images (1) from generated ones (0), in
    grey or colour, at any size (three stride-2 layers: 4x4 at 28 pixels, 8x8 at 64)."""

    def __init__(self, img_shape: tuple[int, int, int] = (1, 28, 28)) -> None:
        super().__init__()
        h, w = img_shape[1:]
        for _ in range(3):
            h, w = (h + 1) // 2, (w + 1) // 2
        self.net = nn.Sequential(
            nn.Conv2d(img_shape[0], 32, 3, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(32, 64, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(64, 128, 3, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Dropout(0.3), nn.Linear(128 * h * w, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


def two_sample_test(real: torch.Tensor, fake: torch.Tensor, seed: int = 0, epochs: int = 40) -> dict[str, float]:
    """Classifier two-sample test (Lopez-Paz & Oquab 2017): a fresh CNN fitted on half of each set, its accuracy
    on the other halves. 0.5: it cannot tell them apart; 1.0: it always can. Returns accuracy and its standard
    error (binomial, over the held-out images)."""
    n = min(len(real), len(fake))
    gen = torch.Generator().manual_seed(seed)
    x = torch.cat([real[:n], fake[:n]])
    y = torch.cat([torch.ones(n), torch.zeros(n)])
    order = torch.randperm(2 * n, generator=gen)
    x, y = x[order], y[order]
    half = n  # half of the images (and, in expectation, of each set) to fit, the rest to test
    threads = torch.get_num_threads()
    # One thread: the same figure on every run. With two, the critic's parallel reductions now and then round
    # differently, and a figure moved by 0.01 between two runs on the same images (0.573 / 0.562).
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            critic = TwoSampleCritic(tuple(real.shape[1:]))
            opt = torch.optim.Adam(critic.parameters(), lr=1e-3)
            for _ in range(epochs):
                critic.train()
                for idx in torch.randperm(half, generator=gen).split(128):
                    loss = F.binary_cross_entropy_with_logits(critic(x[idx]), y[idx])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
            critic.eval()
            with torch.inference_mode():
                right = torch.cat([(critic(x[i : i + 500]) > 0).float() == y[i : i + 500]
                                   for i in range(half, 2 * n, 500)]).float()
    finally:
        torch.set_num_threads(threads)
    accuracy = right.mean().item()
    return {"accuracy": round(accuracy, 4), "stderr": round(math.sqrt(accuracy * (1 - accuracy) / len(right)), 4)}


def real_halves(images: torch.Tensor | None = None, size: int = 4500) -> tuple[torch.Tensor, torch.Tensor]:
    """Two disjoint sets of ``size`` real training images (fixed split; at most half of them each), in [-1, 1];
    mnist-10k's when ``images`` is None."""
    images = training_images()[0] if images is None else images
    size = min(size, len(images) // 2)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(1))
    return images[order[:size]], images[order[size : 2 * size]]


_REAL_VS_REAL: dict[tuple[str, int], float] = {}


def real_vs_real(name: str, images: torch.Tensor, seed: int = 0) -> float:
    """The two-sample test's baseline: real images against other real images of the same data set (about 0.5)."""
    if (name, seed) not in _REAL_VS_REAL:
        _REAL_VS_REAL[name, seed] = two_sample_test(*real_halves(images), seed)["accuracy"]
    return _REAL_VS_REAL[name, seed]


def evaluate_generator(G: Generator, classifier: DigitClassifier, n: int = 5000, seed: int = 0,
                       dataset: str = "mnist-10k", data: str | None = None) -> dict[str, Any]:
    """All metrics of one generator as ``{name: value}``, against the images of ``dataset`` (or of the dataset
    tool's ``data`` folder): Frechet distance, two-sample test and copy check, each with its real-vs-real value;
    class shares by the classifier; CGAN label accuracy (overall and per class); InfoGAN's category effects."""
    real, real_labels = training_images(dataset, data)
    ref_a, ref_b = real_reference(classifier, real)
    # the labels as often as the data has them: the distribution tests compare like with like (unbalanced sets);
    # label accuracy below is measured on a balanced draw instead, every label equally often
    weights = None if not G.num_classes or real_labels is None else torch.bincount(real_labels, minlength=G.num_classes)
    images, latents = generate(G, n, seed, weights)
    feats, preds = classify(classifier, images)
    metrics: dict[str, Any] = {
        "samples": n,
        "frechet_distance": round(frechet_distance(feats, ref_a), 3),
        "frechet_distance_real_vs_real": round(frechet_distance(ref_b, ref_a), 3),
        "confident_share": confident_share(classifier, feats),
        "confident_share_real": confident_share(classifier, ref_b),
    }
    metrics |= digit_shares(preds, classifier.num_classes)
    real_a, _ = real_halves(real)
    c2st = two_sample_test(real_a, images[: len(real_a)], seed)
    metrics |= {"c2st_accuracy": c2st["accuracy"], "c2st_stderr": c2st["stderr"],
                "c2st_real_vs_real": real_vs_real(data or dataset, real, seed)}
    if data is not None:  # a small data set of the user's own: does G copy it?
        metrics |= copy_ratio(images, real, seed=seed)
    if G.num_classes:
        balanced, balanced_latents = (images, latents) if weights is None else generate(G, n, seed)
        _, balanced_preds = classify(classifier, balanced)
        metrics |= label_accuracy(balanced_preds, balanced_latents.labels.numpy(), G.num_classes)
    if G.num_categories:
        metrics |= category_accuracy(preds, latents.categories.numpy(), G.num_categories)
    if G.num_continuous:
        metrics |= code_effects(images, latents.codes, latents.categories)
    return metrics


def copy_ratio(samples: torch.Tensor, train: torch.Tensor, n: int = 1000, seed: int = 0) -> dict[str, float]:
    """Whether a generator copies its training images: the median distance (pixels, L2) of a sample to its nearest
    training image, over the median distance of a training image to its nearest other one. About 1 or more for a
    generator that makes images of its own, near 0 for one that memorised its data set (3,600 images are few
    enough to memorise). ``n`` samples and ``n`` training images are compared with the whole training set."""
    gen = torch.Generator().manual_seed(seed)
    flat = train.reshape(len(train), -1).float()
    pick = torch.randperm(len(train), generator=gen)[: min(n, len(train))]

    def nearest(queries: torch.Tensor, skip_self: bool) -> torch.Tensor:
        out = []
        for rows in queries.split(250):
            d = torch.cdist(rows, flat)
            if skip_self:
                d[d == 0] = float("inf")  # the image itself (and exact duplicates, which the dataset tool drops)
            out.append(d.min(dim=1).values)
        return torch.cat(out)

    to_samples = nearest(samples[: min(n, len(samples))].reshape(min(n, len(samples)), -1).float(), False)
    between = nearest(flat[pick], True)
    return {"copy_ratio": round(float(to_samples.median() / between.median()), 4),
            "nearest_train_distance": round(float(to_samples.median()), 4),
            "nearest_train_to_train_distance": round(float(between.median()), 4)}


def stroke_measures(images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per image (N, 1, H, W in [-1, 1]): its slant, as the shear of its ink about the centre of mass (second
    moments mu11 / mu02: positive leans right going up), and its ink, the mean brightness (thicker strokes: more)."""
    ink = ((images[:, 0].double() + 1) / 2).numpy()
    h, w = ink.shape[1:]
    ys, xs = np.arange(h, dtype=float)[None, :, None], np.arange(w, dtype=float)[None, None, :]
    mass = ink.sum((1, 2)) + 1e-9
    cy, cx = (ink * ys).sum((1, 2)) / mass, (ink * xs).sum((1, 2)) / mass
    dy, dx = ys - cy[:, None, None], xs - cx[:, None, None]
    slant = -(ink * dx * dy).sum((1, 2)) / ((ink * dy * dy).sum((1, 2)) + 1e-9)  # rows grow downwards
    return slant, ink.mean((1, 2))


def code_effects(images: torch.Tensor, codes: torch.Tensor, categories: torch.Tensor | None) -> dict[str, Any]:
    """What each continuous code controls: its correlation with the samples' slant and with their ink (stroke
    width), within each category (a 1 has less ink than an 8 whatever its code), averaged over categories."""
    slant, ink = stroke_measures(images)
    groups = categories.numpy() if categories is not None else np.zeros(len(images), int)
    result: dict[str, list[float]] = {"code_slant_correlation": [], "code_ink_correlation": []}
    for j in range(codes.shape[1]):
        code = codes[:, j].numpy()
        for key, measure in (("code_slant_correlation", slant), ("code_ink_correlation", ink)):
            rs = [np.corrcoef(code[groups == g], measure[groups == g])[0, 1] for g in np.unique(groups)
                  if (groups == g).sum() > 2]
            result[key].append(round(float(np.mean(rs)), 4))
    return result


@torch.inference_mode()
def evaluate_encoder(D: InfoganDiscriminator, G: Generator, category_to_digit: list[int], n: int = 5000,
                     seed: int = 0, dataset: str = "mnist-10k") -> dict[str, Any]:
    """InfoGAN's Q (``D.encode``) as an encoder: on generated images, the share whose category it recovers and the
    correlation of its codes with the codes drawn; on the held-out real digits, the share whose encoded category
    maps (through ``category_to_digit``, measured on G) to the right digit."""
    D.eval()
    images, latents = generate(G, n, seed + 1)
    cat_logits, codes = zip(*(D.encode(images[i : i + 500]) for i in range(0, n, 500)), strict=True)
    cat_logits, codes = torch.cat(cat_logits), torch.cat(codes)
    recovered = (cat_logits.argmax(1) == latents.categories).float().mean().item()
    correlation = [float(np.corrcoef(codes[:, j].numpy(), latents.codes[:, j].numpy())[0, 1])
                   for j in range(G.num_continuous)]
    real, labels = load_dataset(dataset, "test")
    read = D.encode(to_unit_range(real))[0].argmax(1)
    digits = torch.tensor(category_to_digit)[read]
    return {"q_category_recovery": round(recovered, 4), "q_code_correlation": [round(c, 4) for c in correlation],
            "q_real_digit_accuracy": round((digits == labels).float().mean().item(), 4),
            "q_real_digits": len(labels)}


@torch.inference_mode()
def write_grids(G: Generator, name: str, out_dir: Path) -> list[Path]:
    """A 10x10 sample grid (CGAN: each row one z, each column one label, so as many columns as labels; InfoGAN:
    rows = categories), plus, for InfoGAN, one sweep grid per continuous code (rows = categories, columns = -2..2)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(2026)
    columns = G.num_classes or 10
    latents = G.prior(10 * columns, gen)
    if G.num_classes:
        latents.z = latents.z[:10].repeat_interleave(columns, dim=0)
        latents.labels = torch.arange(10 * columns) % columns
    if G.num_categories:
        latents.categories = torch.arange(100) // 10 % G.num_categories
    paths = [out_dir / f"{name}.png"]
    scale = 2 if G.img_shape[1] <= 32 else 1  # digits enlarged; 64-pixel images as they are (the file stays small)
    save_grid(G(latents), str(paths[0]), columns=columns, scale=scale)
    for code in range(G.num_continuous):
        sweep = G.prior(G.num_categories * 9, torch.Generator().manual_seed(7))
        sweep.z = sweep.z[:1].expand(len(sweep.z), -1).clone()
        sweep.categories = torch.arange(G.num_categories).repeat_interleave(9)
        sweep.codes = torch.zeros(len(sweep.z), G.num_continuous)
        sweep.codes[:, code] = torch.linspace(-2, 2, 9).repeat(G.num_categories)
        paths.append(out_dir / f"{name}-sweep-code{code}.png")
        save_grid(G(sweep), str(paths[-1]), columns=9)
    return paths


def write_board(folder: Path, metrics: dict[str, Any], step: int, grid: Path | None = None) -> None:
    """The evaluation figures as TensorBoard scalars (``eval/NAME``, lists as ``eval/NAME/i``) at the run's last step,
    beside its training curves (``--tensorboard runs/NAME/tensorboard``), and the sample grid as an image."""
    from training.train import board_writer

    board = board_writer(folder)
    for key, value in metrics.items():
        values = value if isinstance(value, list) else [value]
        for i, v in enumerate(values):
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                board.add_scalar(f"eval/{key}" + (f"/{i}" if isinstance(value, list) else ""), v, step)
    if grid is not None:
        from PIL import Image

        board.add_image("eval/samples", np.asarray(Image.open(grid).convert("RGB")), step, dataformats="HWC")
    board.close()


def classifier_for(dataset: str, beside: Path | None = None) -> Path:
    """The classifier that judges generators of ``dataset`` (the one `training.classifier` names): in the generator's
    own folder when there is one there, else the shipped one in checkpoints/."""
    name = f"classifier-{dataset.removesuffix('-10k')}"
    if beside is not None and checkpoint_paths(beside / name)[1].is_file():
        return beside / name
    return REPO_ROOT / "checkpoints" / name


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--classifier", type=Path, help="default: checkpoints/classifier-DATASET for each card's "
                        "dataset (classifier-mnist for mnist-10k and mnist, classifier-fashion-mnist)")
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grids-dir", type=Path, default=REPO_ROOT / "docs" / "samples")
    parser.add_argument("--no-write", action="store_true", help="print the figures, leave the card as it is")
    parser.add_argument("--tensorboard", type=Path, help="also write the figures as TensorBoard scalars into this "
                        "folder (the run's: runs/NAME/tensorboard), at the card's last training step")
    parser.add_argument("--precision", choices=sorted(PRECISIONS), default="float32",
                        help="run the generator in this type (as GAN_PRECISION serves it); other than float32 "
                        "implies --no-write")
    args = parser.parse_args(argv)
    torch.set_num_threads(available_cpus())
    for path in args.checkpoints:
        G, card = load_checkpoint(path, expected_class=Generator)
        G = G.to(PRECISIONS[args.precision])
        dataset = card.get("dataset", "mnist-10k")
        data = card.get("config", {}).get("data")  # trained on a data set of the dataset tool
        classifier_path = args.classifier or classifier_for(dataset, checkpoint_paths(path)[1].parent)
        classifier, classifier_card = load_checkpoint(classifier_path, expected_class=DigitClassifier)
        metrics = evaluate_generator(G, classifier, args.samples, args.seed, dataset, data)
        metrics["classifier_test_accuracy"] = classifier_card.get("metrics", {}).get("test_accuracy")
        card_path = checkpoint_paths(path)[1]
        q_path = card_path.with_name(card_path.stem + "-discriminator")
        if G.num_categories and checkpoint_paths(q_path)[1].is_file():  # InfoGAN's Q beside G: the encoder
            D, _ = load_checkpoint(q_path, expected_class=InfoganDiscriminator)
            metrics |= evaluate_encoder(D, G, metrics["category_to_digit"], args.samples, args.seed, dataset)
        print(card["name"], args.precision, metrics)
        grids = None
        if not args.no_write and args.precision == "float32":
            grids = write_grids(G, card["name"], args.grids_dir)
            update_card(path, metrics=metrics | {"classifier": classifier_path.name, "eval_seed": args.seed})
        if args.tensorboard is not None:
            write_board(args.tensorboard, metrics, card.get("steps", 0), grids[0] if grids else None)


if __name__ == "__main__":
    main()
