import json

import numpy as np
import pytest
import torch

from models import DigitClassifier
from models.checkpoint import load_checkpoint
from training.data import load_dataset, to_unit_range
from training.evaluate import (
    category_accuracy,
    classify,
    confident_share,
    digit_shares,
    frechet_distance,
    label_accuracy,
)

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def classifier(repo_root=None):
    from tests.helpers import REPO_ROOT

    model, card = load_checkpoint(REPO_ROOT / "checkpoints" / "classifier-mnist", expected_class=DigitClassifier)
    return model


def test_real_test_digits_get_near_perfect_label_accuracy(classifier):
    images, labels = load_dataset("mnist-10k", "test")
    _, preds = classify(classifier, to_unit_range(images))
    assert label_accuracy(preds, labels.numpy())["label_accuracy"] >= 0.98


def test_frechet_distance_known_cases():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 4))
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    shifted = a + np.array([3.0, 0, 0, 0])
    assert frechet_distance(a, shifted) == pytest.approx(9.0, rel=1e-3)  # |mean difference|^2
    scaled = a * 2
    # same means, covariance 4x: trace(C + 4C - 2 * 2C) = trace(C) ~ 4
    assert frechet_distance(a, scaled) == pytest.approx(4.0, rel=0.05)


def test_category_accuracy_finds_the_best_matching():
    categories = np.repeat(np.arange(10), 50)
    permutation = np.array([3, 1, 4, 0, 5, 9, 2, 6, 8, 7])
    preds = permutation[categories]
    result = category_accuracy(preds, categories)
    assert result["category_accuracy"] == 1.0 and result["category_to_digit"] == permutation.tolist()
    preds[:50] = 7  # category 0's samples all read as 7, which category 9 already owns
    assert category_accuracy(preds, categories)["category_accuracy"] == pytest.approx(0.9)


def test_digit_shares():
    shares = digit_shares(np.array([0, 0, 1, 2]))
    assert shares["digit_share_max"] == 0.5 and shares["digit_share_min"] == 0.0


def test_real_digits_separate_from_noise_in_frechet_distance(classifier):
    images, _ = load_dataset("mnist-10k", "test")
    real = to_unit_range(images)
    noise = torch.rand_like(real) * 2 - 1
    fa, _ = classify(classifier, real[:500])
    fb, _ = classify(classifier, real[500:])
    fn, _ = classify(classifier, noise[:500])
    assert frechet_distance(fa, fb) * 10 < frechet_distance(fa, fn)


def test_confident_share_tells_digits_from_blends(classifier):
    images, labels = load_dataset("mnist-10k", "test")
    real = to_unit_range(images)
    feats, _ = classify(classifier, real)
    assert confident_share(classifier, feats) >= 0.85
    # the average of a 1 and a 0: the classifier should hesitate on most of these
    ones, zeros = real[labels == 1][:100], real[labels == 0][:100]
    blends, _ = classify(classifier, (ones + zeros).clamp(-1, 1))
    assert confident_share(classifier, blends) < 0.5


def test_two_sample_test_tells_noise_from_digits_and_not_digits_from_digits():
    from training.evaluate import real_halves, two_sample_test

    a, b = real_halves(size=600)
    same = two_sample_test(a, b, epochs=3)
    assert abs(same["accuracy"] - 0.5) < 4 * same["stderr"] + 0.02, same  # cannot tell real from real
    blurred = torch.nn.functional.avg_pool2d(b, 3, 1, 1)  # digits, slightly blurred: easy to tell apart
    apart = two_sample_test(a, blurred, epochs=3)
    assert apart["accuracy"] > 0.9, apart
    assert two_sample_test(a, blurred, epochs=3) == apart  # fixed seeds: the same figure twice


def bar_images(shears: list[float], widths: list[int]) -> torch.Tensor:
    """Vertical bars through the centre, each sheared (columns moved right by ``shear`` per row upwards) and
    ``width`` pixels wide."""
    images = torch.full((len(shears), 1, 28, 28), -1.0)
    for i, (shear, width) in enumerate(zip(shears, widths, strict=True)):
        for row in range(5, 23):
            left = round(14 + shear * (14 - row)) - width // 2
            images[i, 0, row, left : left + width] = 1.0
    return images


def test_stroke_measures_read_slant_and_ink():
    from training.evaluate import stroke_measures

    slant, ink = stroke_measures(bar_images([-0.4, 0.0, 0.4, 0.4], [2, 2, 2, 4]))
    assert slant[0] < -0.2 and abs(slant[1]) < 0.05 and slant[2] > 0.2  # leaning left, upright, right
    assert slant[3] == pytest.approx(slant[2], abs=0.05)  # a thicker stroke, the same slant
    assert ink[3] > 1.8 * ink[2] and ink[0] == pytest.approx(ink[1], rel=0.1)


def test_code_effects_tell_which_code_moves_slant_and_which_width():
    from training.evaluate import code_effects

    rng = np.random.default_rng(0)
    codes = torch.tensor(rng.uniform(-1, 1, (200, 2)), dtype=torch.float32)
    categories = torch.tensor(rng.integers(0, 3, 200))
    # code 0 sets the width, code 1 the shear (the order a trained InfoGAN may well pick)
    images = bar_images([0.4 * c for c in codes[:, 1].tolist()], [2 + round(2 * (c + 1)) for c in codes[:, 0].tolist()])
    effects = code_effects(images, codes, categories)
    assert effects["code_ink_correlation"][0] > 0.8 and abs(effects["code_slant_correlation"][0]) < 0.3
    assert effects["code_slant_correlation"][1] > 0.8 and abs(effects["code_ink_correlation"][1]) < 0.3


def test_the_shipped_infogans_codes_control_slant_and_width():
    """The issue's bar for InfoGAN: one continuous code moves the slant and the other the stroke width, measured
    afresh on the shipped generator's samples, and named the same way in its card (which the demo page reads)."""
    from models.files import REPO_ROOT
    from training.evaluate import code_effects, generate

    G, card = load_checkpoint(REPO_ROOT / "checkpoints" / "infogan-mnist")
    with torch.inference_mode():
        images, latents = generate(G, 1000, 3)
    effects = code_effects(images, latents.codes, latents.categories)
    names = []
    for effect in (effects, card["metrics"]):
        slant, ink = np.abs(effect["code_slant_correlation"]), np.abs(effect["code_ink_correlation"])
        names.append(["slant" if s > w else "width" for s, w in zip(slant, ink, strict=True)])
        assert np.maximum(slant, ink).min() >= 0.5  # every code clearly moves one of the two
    assert sorted(names[0]) == ["slant", "width"] and names[0] == names[1]


def test_the_copy_check_catches_a_generator_that_memorised_its_data():
    from training.evaluate import copy_ratio

    gen = torch.Generator().manual_seed(0)
    train = torch.rand(600, 3, 16, 16, generator=gen).round()  # binary noise: no two alike
    memorised = train[torch.randint(600, (300,), generator=gen)] + 0.001 * torch.randn(300, 3, 16, 16, generator=gen)
    fresh = torch.rand(300, 3, 16, 16, generator=gen).round()  # new images from the same distribution
    assert copy_ratio(memorised, train, n=300)["copy_ratio"] < 0.05
    assert 0.9 < copy_ratio(fresh, train, n=300)["copy_ratio"] < 1.1


def test_label_accuracy_is_given_for_each_label_too():
    result = label_accuracy(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 2, 0]), num_classes=4)
    assert result["label_accuracy"] == round(4 / 6, 4)
    assert result["label_accuracy_per_class"] == [0.5, 0.5, 1.0, None]  # label 3 was never asked for


def test_samples_for_the_distribution_tests_take_labels_as_often_as_the_data():
    from models.cgan import CganGenerator
    from training.evaluate import generate

    G = CganGenerator(z_dim=4, num_classes=3, base_channels=2).eval()
    _, balanced = generate(G, 300, seed=0)
    assert np.bincount(balanced.labels.numpy()).tolist() == [100, 100, 100]
    _, skewed = generate(G, 300, seed=0, label_counts=torch.tensor([0, 30, 10]))
    counts = np.bincount(skewed.labels.numpy(), minlength=3)
    assert counts[0] == 0 and 190 < counts[1] < 260  # three to one, drawn
    again = generate(G, 300, seed=0, label_counts=torch.tensor([0, 30, 10]))[1]
    assert torch.equal(again.labels, skewed.labels)


def test_the_two_sample_test_works_in_colour_at_64_pixels():
    from training.evaluate import two_sample_test

    gen = torch.Generator().manual_seed(0)
    real = torch.rand(400, 3, 64, 64, generator=gen) * 2 - 1
    other = torch.rand(400, 3, 64, 64, generator=gen) * 2 - 1
    greyed = other.mean(1, keepdim=True).expand(-1, 3, -1, -1)  # the same noise without its colour
    assert two_sample_test(real[:200], other[:200], epochs=3)["accuracy"] < 0.65
    assert two_sample_test(real[:200], greyed[:200], epochs=3)["accuracy"] > 0.9


def test_a_generator_of_a_made_data_set_is_judged_against_that_data_set(tmp_path):
    from models.cgan import CganGenerator
    from tests.helpers import write_shapes
    from training.classifier import train_classifier
    from training.dataset import Options, build, find_source
    from training.evaluate import evaluate_generator, training_images

    folder = tmp_path / "data" / "shapes"
    build(find_source(write_shapes(tmp_path / "shapes", per_class=60, side=32), "folders"), folder, Options(size=32),
          workers=1)
    card = train_classifier("unused", 1, 0, torch.device("cpu"), tmp_path / "ckpt", data=folder, batch_size=16)
    classifier, _ = load_checkpoint(tmp_path / "ckpt" / card["name"], expected_class=DigitClassifier)
    real, labels = training_images(data=str(folder))
    assert real.shape == (120, 3, 32, 32) and labels.tolist() == [0] * 60 + [1] * 60
    G = CganGenerator(z_dim=4, num_classes=2, img_shape=(3, 32, 32), base_channels=2).eval()
    m = evaluate_generator(G, classifier, n=100, data=str(folder))
    assert m["c2st_accuracy"] > 0.8  # an untrained G is told apart from the shapes
    assert 0.3 < m["c2st_real_vs_real"] < 0.7 and m["copy_ratio"] > 1  # it copies nothing
    assert len(m["label_accuracy_per_class"]) == 2 and len(m["digit_shares"]) == 2


def test_evaluation_writes_its_figures_into_the_runs_tensorboard_and_a_grid_per_label(tmp_path):
    from PIL import Image
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from models.cgan import CganGenerator
    from models.checkpoint import save_checkpoint
    from tests.helpers import write_shapes
    from training.classifier import train_classifier
    from training.dataset import Options, build, find_source
    from training.evaluate import main

    folder = tmp_path / "data" / "shapes"
    build(find_source(write_shapes(tmp_path / "shapes", per_class=20, side=32), "folders"), folder, Options(size=32),
          workers=1)
    train_classifier("unused", 1, 0, torch.device("cpu"), tmp_path / "ckpt", data=folder, batch_size=16)
    G = CganGenerator(z_dim=4, num_classes=2, img_shape=(3, 32, 32), base_channels=2)
    save_checkpoint(G, tmp_path / "ckpt" / "tiny", {"kind": "generator", "dataset": "shapes", "steps": 7,
                                                   "config": {"data": str(folder)}})
    main([str(tmp_path / "ckpt" / "tiny"), "--samples", "60", "--grids-dir", str(tmp_path / "grids"),
          "--tensorboard", str(tmp_path / "board")])
    events = EventAccumulator(str(tmp_path / "board"))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    wanted = {"eval/c2st_accuracy", "eval/copy_ratio", "eval/label_accuracy", "eval/label_accuracy_per_class/1"}
    assert wanted <= scalars, scalars
    assert events.Scalars("eval/c2st_accuracy")[0].step == 7 and events.Images("eval/samples")
    card = json.loads((tmp_path / "ckpt" / "tiny.json").read_text())
    assert card["metrics"]["classifier"] == "classifier-shapes" and "copy_ratio" in card["metrics"]
    width, height = Image.open(tmp_path / "grids" / "tiny.png").size  # a column a label, ten rows (PNG enlarged)
    assert width * (10 * 32 + 11 * 2) == height * (2 * 32 + 3 * 2)
