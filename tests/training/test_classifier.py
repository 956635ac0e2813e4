"""The classifier that judges generators: on a data set of the user's own it holds out a tenth of each class,
learns the classes' names, and works at any size in grey or colour."""

from __future__ import annotations

import json

import pytest
import torch

from models import DigitClassifier
from tests.helpers import write_shapes
from training.classifier import train_classifier
from training.data import held_out_split
from training.dataset import Options, build, find_source

pytestmark = pytest.mark.unit


def test_the_held_out_rows_are_a_tenth_of_each_class_and_the_same_every_time():
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 1 + [3] * 2)
    train, test = held_out_split(labels)
    assert torch.bincount(labels[test], minlength=4).tolist() == [5, 3, 0, 1]  # a lone image stays in training
    assert set(train.tolist()).isdisjoint(test.tolist()) and len(train) + len(test) == len(labels)
    again = held_out_split(labels)
    assert torch.equal(again[0], train) and torch.equal(again[1], test)
    assert not torch.equal(held_out_split(labels, seed=1)[1], test)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 64, 64), (3, 128, 128)])
def test_the_classifier_takes_every_size_and_gives_its_features(shape):
    model = DigitClassifier(9, shape).eval()
    x = torch.rand(2, *shape) * 2 - 1
    assert model.features(x).shape == (2, 128) and model(x).shape == (2, 9)


def test_a_classifier_of_a_made_data_set_learns_its_classes_and_says_what_it_held_out(tmp_path):
    build(find_source(write_shapes(tmp_path / "shapes", per_class=50, side=32), "folders"),
          tmp_path / "data" / "shapes", Options(size=32), workers=1)
    card = train_classifier("unused", 6, 0, torch.device("cpu"), tmp_path / "ckpt", data=tmp_path / "data" / "shapes",
                            batch_size=16)
    assert card["name"] == "classifier-shapes" and card["class_names"] == ["circle", "square"]
    assert card["metrics"]["test_images"] == 10 and "a tenth of each class" in card["held_out"]
    assert card["metrics"]["test_accuracy"] >= 0.9, card["metrics"]  # circles from squares: easy
    per_class = card["metrics"]["test_accuracy_per_class"]
    assert len(per_class) == 2 and card["metrics"]["test_balanced_accuracy"] == round(sum(per_class) / 2, 4)
    saved = json.loads((tmp_path / "ckpt" / "classifier-shapes.json").read_text())
    assert saved["kwargs"]["img_shape"] == [3, 32, 32] and saved["kwargs"]["num_classes"] == 2
