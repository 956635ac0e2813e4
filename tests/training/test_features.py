"""The DCGAN discriminator as a feature extractor (Radford et al. 2015, section 5.1), on 100 labelled digits."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from models.checkpoint import load_checkpoint
from models.dcgan import DcganDiscriminator
from tests.helpers import REPO_ROOT
from training import features

pytestmark = pytest.mark.integration

D_PATH = REPO_ROOT / "checkpoints" / "dcgan-mnist-discriminator"


def test_features_are_every_layer_pooled_to_four_by_four():
    D, card = load_checkpoint(D_PATH, expected_class=DcganDiscriminator)
    assert card["kind"] == "discriminator" and card["generator"] == "dcgan-mnist"
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    maps = D.features(x)
    assert [m.shape[1] for m in maps] == [D.base_channels * 2**i for i in range(D.depth)]
    rows = features.d_features(D, x)
    assert rows.shape == (3, 16 * sum(m.shape[1] for m in maps))
    assert np.allclose(rows[0, :16], torch.nn.functional.adaptive_max_pool2d(maps[0][:1, :1], 4).flatten().numpy())


def test_balanced_subsets():
    labels = np.repeat(np.arange(10), 50)
    rows = features.labelled_subset(labels, 100)
    assert len(rows) == 100 and np.bincount(labels[rows]).tolist() == [10] * 10
    assert len(features.labelled_subset(labels, 10_000)) == 500


def test_cli_prints_the_errors_as_json_and_gan_training_taught_d_something(capsys):
    """100 labelled digits (the full table, 100/1,000/9,000, takes minutes: README). The shipped D's features must
    beat raw pixels there; the figures themselves are in the README whichever way they come out."""
    features.main(["--sizes", "100"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    errors = result["100"]
    assert set(errors) == {"d", "pixels", "random_d"} and all(0 <= e <= 1 for e in errors.values())
    assert errors["d"] < errors["pixels"], errors


def test_beyond_the_exact_rows_c_is_picked_on_one_held_out_third_by_the_sgd_svm(monkeypatch):
    """Five fits (four Cs on two thirds, the refit on all) instead of 3-fold's thirteen; the same objective."""
    from sklearn.model_selection import GridSearchCV

    fits = []
    real_fit = features.SquaredHingeSVM.fit
    monkeypatch.setattr(features.SquaredHingeSVM, "fit", lambda self, x, y: fits.append(len(x)) or real_fit(self, x, y))
    monkeypatch.setattr(features, "EXACT_ROWS", 100)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 20)) * 3
    y = np.repeat(np.arange(3), 100)
    x = centres[y] + rng.normal(size=(300, 20))
    searches = []
    real_search = GridSearchCV.fit
    monkeypatch.setattr(GridSearchCV, "fit", lambda self, *a: searches.append(self) or real_search(self, *a))
    error = features.svm_error(x, y, x[::7], y[::7])
    assert error < 0.05
    assert fits == [200] * len(features.C_GRID) + [300]
    assert sorted(np.bincount(y[next(searches[0].cv.split(x, y))[0]])) == [66, 67, 67]  # stratified
