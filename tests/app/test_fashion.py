"""Fashion-MNIST: Debian's data package read by the loader, and the shipped dcgan-fashion and cgan-fashion served
with their class names and judged by the Fashion-MNIST classifier."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from models import DigitClassifier
from models.checkpoint import load_checkpoint, read_card
from tests.helpers import CHECKPOINTS
from training.data import CLASS_NAMES, FASHION_DIR, load_dataset

pytestmark = pytest.mark.unit

NAMES = CLASS_NAMES["fashion-mnist"]


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="apt-get install dataset-fashion-mnist (.ci/run installs it)")
def test_the_debian_package_loads_as_60000_and_10000_balanced_images():
    for split, n in (("train", 60_000), ("test", 10_000)):
        images, labels = load_dataset("fashion-mnist", split)
        assert images.shape == (n, 1, 28, 28) and images.dtype == torch.uint8
        assert torch.bincount(labels).tolist() == [n // 10] * 10


@pytest.mark.parametrize("name", ["dcgan-fashion", "cgan-fashion"])
def test_the_cards_name_the_classes_and_carry_the_evaluators_figures(name):
    card = read_card(CHECKPOINTS / name)
    assert card["dataset"] == "fashion-mnist" and card["class_names"] == NAMES
    metrics = card["metrics"]
    assert metrics["classifier"] == "classifier-fashion-mnist"
    for key in ("frechet_distance", "c2st_accuracy", "c2st_real_vs_real", "digit_share_min"):
        assert key in metrics, key


@pytest.fixture(scope="module")
def client(shipped_client):
    return shipped_client


@pytest.fixture(scope="module")
def classifier():
    model, card = load_checkpoint(CHECKPOINTS / "classifier-fashion-mnist", expected_class=DigitClassifier)
    assert card["dataset"] == "fashion-mnist"
    return model


def test_cgan_fashion_draws_the_class_asked_for_by_name(client, classifier):
    """Twenty images of each class, asked for by name; the Fashion-MNIST classifier reads them (the evaluator's
    label accuracy over 5,000 is in the card)."""
    right = []
    for index, name in enumerate(NAMES):
        r = client.post("/generate", json={"model": "cgan-fashion", "label": name.upper(), "n": 20, "seed": 100,
                                           "format": "npy"})
        assert r.status_code == 200, r.text
        pixels = np.load(io.BytesIO(r.content), allow_pickle=False)
        x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div(127.5).sub(1)
        with torch.inference_mode():
            right.append((classifier(x).argmax(1) == index).float().mean().item())
    card = read_card(CHECKPOINTS / "cgan-fashion")["metrics"]["label_accuracy"]
    assert np.mean(right) >= card - 0.08, (right, card)
    assert min(right) >= 0.4, right  # every class is drawn as itself most of the time (shirts are the hardest)


def test_the_fashion_models_are_listed_with_class_names(client):
    cards = {m["name"]: m for m in client.get("/models").json()}
    assert cards["cgan-fashion"]["class_names"] == NAMES and cards["cgan-fashion"]["num_classes"] == 10
    assert cards["dcgan-fashion"]["class_names"] == NAMES and cards["dcgan-fashion"]["num_classes"] is None
    r = client.post("/generate", json={"model": "cgan-fashion", "labels": ["bag", "trouser"], "n": 2,
                                       "format": "json", "seed": 1})
    assert [i["label_name"] for i in r.json()["images"]] == ["bag", "trouser"]
