"""The discriminator as a feature extractor (Radford et al. 2015, section 5.1), on the bundled digits.

    python -m training.features                                   # D of checkpoints/dcgan-mnist-discriminator
    python -m training.features --discriminator runs/export/dcgan-mnist-discriminator --sizes 100 1000

The paper's procedure: every convolutional layer of D (after its activation) max-pooled to a 4 x 4 grid,
flattened and concatenated, then a regularised linear L2-SVM (squared hinge loss) on those features. Trained on 100
(ten of each digit), 1,000 and all 9,000 labelled training digits; the test error is on the 1,000 held-out digits.
Beside D's features: the raw pixels, and a randomly initialised D of the same shape (the control: what the
architecture gives without GAN training). Features are standardised on the training subset; the SVM's C is chosen
by 3-fold cross-validation on that subset alone. Up to 2,000 training rows the SVM is liblinear's exact one
(scikit-learn's LinearSVC); beyond, where its fits took minutes each (39 of them on 9,000 x 5,376 features), the
same objective is fitted by averaged stochastic gradient descent (scikit-learn's SGDClassifier, squared hinge, L2
penalty alpha = 1 / (C n), 30 epochs, fixed seed): ``python -m bench.svm_solvers`` compares the two on 6,000 rows.
The last line printed is one JSON object: ``{"100": {"d": e, "pixels": e, "random_d": e}, "1000": {...},
"9000": {...}}`` (errors in [0, 1]).
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import GridSearchCV, StratifiedShuffleSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from models.checkpoint import load_checkpoint
from models.dcgan import DcganDiscriminator
from models.files import REPO_ROOT
from models.runtime import available_cpus
from training.data import load_dataset, to_unit_range

C_GRID = [1e-4, 1e-3, 1e-2, 1e-1]


@torch.inference_mode()
def d_features(D: DcganDiscriminator, images: torch.Tensor, grid: int = 4, batch: int = 500) -> np.ndarray:
    """Each layer's map max-pooled to ``grid`` x ``grid``, flattened and concatenated, one row per image."""
    D.eval()
    rows = []
    for i in range(0, len(images), batch):
        maps = D.features(images[i : i + batch])
        rows.append(torch.cat([F.adaptive_max_pool2d(m, grid).flatten(1) for m in maps], 1))
    return torch.cat(rows).numpy()


def labelled_subset(labels: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """Indices of ``size`` training digits, the same number of each digit (all of them for the full set)."""
    if size >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    per_class = size // 10
    return np.concatenate([rng.permutation(np.flatnonzero(labels == d))[:per_class] for d in range(10)])


class SquaredHingeSVM(BaseEstimator, ClassifierMixin):
    """A linear L2-SVM with the squared hinge loss, ``C * sum(loss) + |w|^2 / 2`` as LinearSVC's, fitted by averaged
    SGD (one-vs-rest): the penalty ``alpha = 1 / (C n)`` is the same objective divided by ``C n``."""

    def __init__(self, C: float = 1e-3, epochs: int = 30, seed: int = 0) -> None:  # noqa: N803 - scikit-learn's name
        self.C, self.epochs, self.seed = C, epochs, seed

    def fit(self, x: np.ndarray, y: np.ndarray) -> SquaredHingeSVM:
        self.model_ = SGDClassifier(loss="squared_hinge", penalty="l2", alpha=1.0 / (self.C * len(x)),
                                    max_iter=self.epochs, tol=None, average=True, random_state=self.seed,
                                    n_jobs=available_cpus()).fit(x, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.model_.predict(x)


EXACT_ROWS = 2000  # up to this many training rows, liblinear's exact solver; beyond, averaged SGD


def svm_error(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> float:
    """Test error of a linear L2-SVM, its C picked on the training rows alone: by 3-fold cross-validation up to
    ``EXACT_ROWS`` of them, beyond on one stratified third held out (5 fits instead of 13: with thousands of rows a
    third is a steady estimate, and each fit takes seconds)."""
    if len(train_x) <= EXACT_ROWS:  # liblinear fits on one core: the search runs its 12 fits side by side
        svm, cv, jobs = LinearSVC(dual="auto", max_iter=2000), 3, available_cpus()
    else:  # SGD's one-vs-rest fits use every core already
        svm, cv, jobs = SquaredHingeSVM(), StratifiedShuffleSplit(n_splits=1, test_size=1 / 3, random_state=0), 1
    search = GridSearchCV(make_pipeline(StandardScaler(), svm), {f"{type(svm).__name__.lower()}__C": C_GRID}, cv=cv,
                          n_jobs=jobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(train_x, train_y)
    return round(float(1.0 - search.score(test_x, test_y)), 4)


def run(D: DcganDiscriminator, sizes: list[int], seed: int = 0) -> dict[str, dict[str, float]]:
    train_images, train_labels = load_dataset("mnist-10k", "train")
    test_images, test_labels = load_dataset("mnist-10k", "test")
    train_x, test_x = to_unit_range(train_images), to_unit_range(test_images)
    torch.manual_seed(seed)
    random_d = type(D)(**{k: getattr(D, k) for k in ("img_shape", "base_channels", "minibatch_std", "extra_conv",
                                                     "depth")})
    features = {
        "d": (d_features(D, train_x), d_features(D, test_x)),
        "pixels": (train_x.flatten(1).numpy(), test_x.flatten(1).numpy()),
        "random_d": (d_features(random_d, train_x), d_features(random_d, test_x)),
    }
    y_train, y_test = train_labels.numpy(), test_labels.numpy()
    results: dict[str, dict[str, float]] = {}
    for size in sizes:
        rows = labelled_subset(y_train, size, seed)
        results[str(size)] = {name: svm_error(tr[rows], y_train[rows], te, y_test)
                              for name, (tr, te) in features.items()}
        print(f"{size} labelled digits: test error " + ", ".join(f"{k} {v:.4f}" for k, v in results[str(size)].items()),
              flush=True)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--discriminator", type=Path, default=REPO_ROOT / "checkpoints" / "dcgan-mnist-discriminator")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 9000])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(available_cpus())
    D, _ = load_checkpoint(args.discriminator, expected_class=DcganDiscriminator)
    print(json.dumps(run(D, args.sizes, args.seed)))


if __name__ == "__main__":
    main()
