"""Colour models through every route, in-process with tiny 64x64 RGB generators whose card names the emoji groups:
RGB PNGs, npy of shape (n, H, W, 3), labels by group name, arithmetic and interpolation, size and channels in
/models."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from app.config import Settings
from app.main import create_app
from models.cgan import CganGenerator
from models.checkpoint import save_checkpoint
from models.dcgan import DcganGenerator

pytestmark = pytest.mark.unit

GROUPS = ["smileys & emotion", "people & body", "animals & nature", "food & drink", "travel & places", "activities",
          "objects", "symbols", "flags"]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(0)
    card = {"kind": "generator", "dataset": "emoji-64", "image_size": 64, "channels": 3}
    save_checkpoint(CganGenerator(z_dim=8, num_classes=9, img_shape=(3, 64, 64), base_channels=4),
                    folder / "tiny-cgan-emoji", card | {"class_names": GROUPS})
    save_checkpoint(DcganGenerator(z_dim=8, img_shape=(3, 64, 64), base_channels=4), folder / "tiny-dcgan-emoji",
                    card | {"class_names": GROUPS})
    with TestClient(create_app(Settings(checkpoint_dir=folder, log_level="warning"))) as c:
        yield c


def png(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    img = Image.open(io.BytesIO(response.content))
    assert img.mode == "RGB"
    return np.asarray(img)


def test_models_say_size_channels_and_group_names(client):
    cards = {m["name"]: m for m in client.get("/models").json()}
    for name in ("tiny-cgan-emoji", "tiny-dcgan-emoji"):
        assert cards[name]["image_size"] == 64 and cards[name]["channels"] == 3
    assert cards["tiny-cgan-emoji"]["class_names"] == GROUPS


def test_png_npy_and_json_are_in_colour(client):
    grid = png(client.post("/generate", json={"model": "tiny-dcgan-emoji", "n": 4, "seed": 1, "columns": 2}))
    assert grid.shape[2] == 3 and grid.shape[0] >= 128 and grid.shape[1] >= 128
    r = client.post("/generate", json={"model": "tiny-dcgan-emoji", "n": 4, "seed": 1, "format": "npy"})
    array = np.load(io.BytesIO(r.content))
    assert array.shape == (4, 64, 64, 3) and array.dtype == np.uint8
    assert (array[..., 0] != array[..., 1]).any()  # three channels of their own, not grey copied thrice
    single = png(client.post("/generate", json={"model": "tiny-dcgan-emoji", "seed": 2}))
    assert single.shape == (64, 64, 3)
    assert np.array_equal(single, np.load(io.BytesIO(client.post("/generate", json={
        "model": "tiny-dcgan-emoji", "seed": 2, "format": "npy"}).content))[0])
    body = client.post("/generate", json={"model": "tiny-dcgan-emoji", "seed": 2, "format": "json"}).json()
    img = Image.open(io.BytesIO(base64.b64decode(body["images"][0]["png"])))
    assert img.mode == "RGB" and np.array_equal(np.asarray(img), single)
    assert png(client.get("/models/tiny-dcgan-emoji/sample.png?n=4&seed=3")).shape[2] == 3


def test_labels_by_group_name_as_class_names_are_matched(client):
    def npy(label):
        r = client.post("/generate", json={"model": "tiny-cgan-emoji", "seed": 5, "label": label, "format": "npy"})
        assert r.status_code == 200, r.text
        return np.load(io.BytesIO(r.content))

    food = npy("food & drink")
    assert np.array_equal(food, npy(3)) and np.array_equal(food, npy("  Food & Drink "))
    assert not np.array_equal(food, npy("flags"))
    r = client.post("/generate", json={"model": "tiny-cgan-emoji", "label": "drinks"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "label"]
    assert "food & drink" in r.json()["detail"][0]["msg"]  # the message lists the names


def test_arithmetic_and_interpolation_in_colour(client):
    r = client.post("/latent/arithmetic", json={"model": "tiny-cgan-emoji", "label": "animals & nature", "terms": [
        {"seeds": [1]}, {"seeds": [2], "weight": -1}, {"seeds": [3]}], "format": "npy"})
    assert r.status_code == 200, r.text
    assert np.load(io.BytesIO(r.content)).shape[1:] == (64, 64, 3)
    r = client.post("/latent/interpolate", json={"model": "tiny-dcgan-emoji", "start": {"seed": 1},
                                                 "end": {"seed": 2}, "steps": 5, "format": "npy"})
    assert r.status_code == 200, r.text
    frames = np.load(io.BytesIO(r.content))
    assert frames.shape == (5, 64, 64, 3)
    ends = np.load(io.BytesIO(client.post("/generate", json={"model": "tiny-dcgan-emoji", "seeds": [1, 2],
                                                             "format": "npy"}).content))
    assert np.array_equal(frames[0], ends[0]) and np.array_equal(frames[-1], ends[1])
