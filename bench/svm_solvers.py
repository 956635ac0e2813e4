"""liblinear's exact primal L2-SVM (LinearSVC) against the averaged SGD fit training.features uses, on the shipped
DCGAN discriminator's features of 6,000 training digits (a fold of the 9,000-row cross-validation): seconds a fit
and the error on the 1,000 held-out digits, for each C of the feature table's grid.

    python -m bench.svm_solvers            # one thread; minutes (LinearSVC's fits are the slow part)
"""

from __future__ import annotations

import time
import warnings

import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from models.checkpoint import load_checkpoint
from models.dcgan import DcganDiscriminator
from models.files import REPO_ROOT
from training.data import load_dataset, to_unit_range
from training.features import C_GRID, SquaredHingeSVM, d_features


def main() -> None:
    torch.set_num_threads(1)
    D, _ = load_checkpoint(REPO_ROOT / "checkpoints" / "dcgan-mnist-discriminator", expected_class=DcganDiscriminator)
    x, y = load_dataset("mnist-10k", "train")
    x_test, y_test = load_dataset("mnist-10k", "test")
    train, test = d_features(D, to_unit_range(x[:6000])), d_features(D, to_unit_range(x_test))
    scaler = StandardScaler().fit(train)
    train, test, labels = scaler.transform(train), scaler.transform(test), y[:6000].numpy()
    print(f"{train.shape[0]} x {train.shape[1]} features")
    for C in C_GRID[:3]:  # noqa: N806 - the SVM's own name
        for name, model in (("LinearSVC (primal)", LinearSVC(C=C, dual=False, max_iter=2000)),
                            ("averaged SGD", SquaredHingeSVM(C=C))):
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(train, labels)
            seconds = time.perf_counter() - t0
            error = 1 - (model.predict(test) == y_test.numpy()).mean()
            print(f"C {C:g}: {name:20} {seconds:6.1f} s, test error {error:.4f}", flush=True)


if __name__ == "__main__":
    main()
