"""The dataset tool on whole data sets: Fashion-MNIST through a folder of PNGs gives exactly its IDX data, the
built-in emoji source, and training on a made data set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import write_shapes
from training.data import FASHION_DIR, load_dataset
from training.dataset import Options, build, find_source, read

pytestmark = pytest.mark.integration


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_fashion_mnist_as_a_folder_of_pngs_reads_back_exactly(tmp_path):
    images, labels = load_dataset("fashion-mnist", "test")
    root = tmp_path / "fashion"
    for k in range(10):
        (root / f"{k:02d}").mkdir(parents=True)
    for i, (image, label) in enumerate(zip(images[:, 0].numpy(), labels.tolist(), strict=True)):
        Image.fromarray(image).save(root / f"{label:02d}" / f"{i:05d}.png")
    report = build(find_source(root, "folders"), tmp_path / "out", Options(size=28, grey=True), workers=2)
    ds = read(tmp_path / "out")
    order = np.argsort(labels.numpy(), kind="stable")  # the tool's order: class by class, then by file name
    assert report.images == 10_000 and not report.skipped
    assert np.array_equal(ds.images[:, :, :, 0], images[:, 0].numpy()[order])
    assert np.array_equal(ds.labels, labels.numpy()[order])


EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")


@pytest.mark.skipif(not EMOJI_FONT.is_file(), reason="apt-get install fonts-noto-color-emoji unicode-data")
def test_the_emoji_source_renders_every_fully_qualified_emoji_in_nine_groups(tmp_path):
    from training.emoji import build_emoji

    report = build_emoji(tmp_path / "emoji-32", Options(size=32), workers=2)
    ds = read(tmp_path / "emoji-32")
    assert len(ds.class_names) == 9 and "food & drink" in ds.class_names and "component" not in ds.class_names
    assert ds.images.shape[1:] == (32, 32, 3) and ds.header["licence"].startswith("Apache-2.0")
    assert report.images + len(report.duplicates) == 3655  # every one, less exact duplicates of another's file
    corners = ds.images[:, [0, -1]][:, :, [0, -1]].reshape(-1, 3)
    assert np.median(corners) == 255  # on white
    saturation = ds.images.max(axis=3).astype(int) - ds.images.min(axis=3)
    assert saturation.mean() > 20  # colour, not grey


def test_training_on_a_made_data_set_takes_its_classes_and_names(tmp_path):
    from training.config import PRESETS
    from training.train import train

    root = write_shapes(tmp_path / "shapes")
    build(find_source(root, "folders"), tmp_path / "data" / "shapes", Options(size=28), workers=1)
    cfg = PRESETS["cgan-mnist"].with_overrides(epochs=1, batch_size=16, data=str(tmp_path / "data" / "shapes"),
                                               g_kwargs={"z_dim": 8, "base_channels": 8},
                                               d_kwargs={"base_channels": 8})
    import torch

    card = train(cfg, tmp_path / "run", tmp_path / "ckpt", torch.device("cpu"), max_steps=3)
    assert card["class_names"] == ["circle", "square"] and card["dataset"] == "shapes" and card["channels"] == 3
    saved = json.loads((tmp_path / "ckpt" / "cgan-mnist.json").read_text())
    assert saved["kwargs"]["num_classes"] == 2 and saved["kwargs"]["img_shape"] == [3, 28, 28]
    one = tmp_path / "one"
    (one / "only").mkdir(parents=True)
    Image.new("RGB", (28, 28)).save(one / "only" / "a.png")
    build(find_source(one, "folders"), tmp_path / "data" / "one", Options(size=28), workers=1)
    from training.data import DataError

    with pytest.raises(DataError, match="at least two classes"):
        train(cfg.with_overrides(data=str(tmp_path / "data" / "one")), tmp_path / "run2", None, torch.device("cpu"),
              max_steps=1)


def test_dcgan_trains_on_64_pixel_colour_images(tmp_path):
    import torch

    from training.config import PRESETS
    from training.train import train

    root = tmp_path / "colour"
    root.mkdir()
    rng = np.random.default_rng(1)
    for i in range(48):
        Image.fromarray(rng.integers(0, 256, (80, 70, 3), dtype=np.uint8)).save(root / f"{i}.png")
    build(find_source(root, "auto"), tmp_path / "data" / "colour", Options(size=64), workers=1)
    cfg = PRESETS["dcgan-mnist"].with_overrides(epochs=1, batch_size=16, data=str(tmp_path / "data" / "colour"),
                                                g_kwargs={"z_dim": 8, "base_channels": 4},
                                                d_kwargs={"base_channels": 4, "depth": 4})
    card = train(cfg, tmp_path / "run", tmp_path / "ckpt", torch.device("cpu"), max_steps=2)
    assert card["image_size"] == 64 and card["channels"] == 3 and "class_names" not in card
    from models.checkpoint import load_checkpoint

    G, _ = load_checkpoint(tmp_path / "ckpt" / "dcgan-mnist")
    assert G(G.latents_for_seeds([1])).shape == (1, 3, 64, 64)
    assert (tmp_path / "run" / "samples").is_dir() and any((tmp_path / "run" / "samples").iterdir())
