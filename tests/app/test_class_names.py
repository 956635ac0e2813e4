"""Labels by class name ("sneaker"), in-process against the real app with a tiny CGAN whose card names its classes,
beside the shipped cgan-mnist (whose labels are digits)."""

from __future__ import annotations

import base64
import io
import json
import shutil

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from app.config import Settings
from app.main import create_app
from models.cgan import CganGenerator
from models.checkpoint import save_checkpoint
from tests.helpers import REPO_ROOT
from training.data import CLASS_NAMES

pytestmark = pytest.mark.unit

NAMES = CLASS_NAMES["fashion-mnist"]  # "t-shirt/top", ..., "sneaker" (7), "bag", "ankle boot" (9)


def tiny_cgan(path, **card) -> None:
    torch.manual_seed(0)
    save_checkpoint(CganGenerator(z_dim=8, base_channels=4), path, {"kind": "generator", "dataset": "fashion-mnist"}
                    | card)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("checkpoints")
    tiny_cgan(folder / "tiny-fashion", class_names=NAMES)
    for suffix in (".json", ".safetensors"):
        shutil.copy(REPO_ROOT / "checkpoints" / f"cgan-mnist{suffix}", folder)
    with TestClient(create_app(Settings(checkpoint_dir=folder, log_level="warning"))) as c:
        yield c


def images(response) -> list[np.ndarray]:
    assert response.status_code == 200, response.text
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(i["png"])))) for i in response.json()["images"]]


def error(response, status: int = 422) -> dict:
    assert response.status_code == status, response.text
    return response.json()["detail"][0]


def test_the_card_lists_the_class_names(client):
    cards = {m["name"]: m for m in client.get("/models").json()}
    assert cards["tiny-fashion"]["class_names"] == NAMES
    assert cards["cgan-mnist"]["class_names"] is None


@pytest.mark.parametrize("label", ["sneaker", "Sneaker", " SNEAKER ", "7", 7])
def test_a_label_by_name_or_index_gives_the_same_images(client, label):
    body = {"model": "tiny-fashion", "seed": 3, "n": 4, "format": "json"}
    by_index = client.post("/generate", json=body | {"label": 7})
    named = client.post("/generate", json=body | {"label": label})
    assert all(np.array_equal(a, b) for a, b in zip(images(by_index), images(named), strict=True))
    assert [(i["label"], i["label_name"]) for i in named.json()["images"]] == [(7, "sneaker")] * 4


@pytest.mark.parametrize(("given", "index"), [("ankle_boot", 9), ("Ankle-Boot", 9), ("t-shirt", 0), ("top", 0),
                                              ("T-shirt/top", 0), ("tshirt", 0)])
def test_spellings_of_a_name(client, given, index):
    r = client.post("/generate", json={"model": "tiny-fashion", "seed": 1, "label": given, "format": "json"})
    assert r.status_code == 200, r.text
    assert r.json()["images"][0]["label"] == index


def test_labels_per_image_mix_names_and_indices(client):
    body = {"model": "tiny-fashion", "seeds": [5, 6, 7], "format": "json"}
    mixed = client.post("/generate", json=body | {"labels": ["bag", 1, "coat"]})
    plain = client.post("/generate", json=body | {"labels": [8, 1, 4]})
    assert all(np.array_equal(a, b) for a, b in zip(images(mixed), images(plain), strict=True))
    assert [i["label_name"] for i in mixed.json()["images"]] == ["bag", "trouser", "coat"]


def test_the_get_form_takes_a_name(client):
    png = client.get("/models/tiny-fashion/sample.png?seed=9&label=sneaker")
    post = client.post("/generate", json={"model": "tiny-fashion", "seed": 9, "label": 7})
    assert png.status_code == 200 and png.content == post.content


def test_interpolation_and_arithmetic_take_a_name(client):
    r = client.post("/latent/interpolate", json={"model": "tiny-fashion", "start": {"seed": 1}, "end": {"seed": 2},
                                          "steps": 3, "label": "dress", "format": "json"})
    assert [i["label"] for i in r.json()["images"]] == [3, 3, 3]
    r = client.post("/latent/arithmetic", json={"model": "tiny-fashion", "terms": [{"seeds": [1]}], "label": "bag",
                                         "format": "json"})
    assert r.status_code == 200 and r.json()["images"][0]["label_name"] == "bag"


def test_an_unknown_name_is_a_422_listing_the_classes(client):
    err = error(client.post("/generate", json={"model": "tiny-fashion", "label": "hat"}))
    assert err["loc"] == ["body", "label"] and "'hat'" in err["msg"] and "sneaker" in err["msg"]
    err = error(client.post("/generate", json={"model": "tiny-fashion", "n": 3, "labels": [1, "bag", "hat"]}))
    assert err["loc"] == ["body", "labels", 2]
    err = error(client.get("/models/tiny-fashion/sample.png?label=hat"))
    assert err["loc"] == ["query", "label"]
    err = error(client.post("/generate", json={"model": "tiny-fashion", "label": "x" * 65}))
    assert err["loc"][:2] == ["body", "label"]  # over 64 characters: refused by the schema
    err = error(client.post("/generate", json={"model": "tiny-fashion", "label": "12"}))
    assert "between 0 and 9" in err["msg"]


def test_a_name_for_a_model_without_class_names_is_a_422(client):
    err = error(client.post("/generate", json={"model": "cgan-mnist", "label": "seven"}))
    assert err["loc"] == ["body", "label"] and "no class names" in err["msg"]
    assert client.post("/generate", json={"model": "cgan-mnist", "label": "7"}).status_code == 200


def test_an_unconditional_models_card_may_name_its_datasets_classes(tmp_path):
    from models.dcgan import DcganGenerator

    save_checkpoint(DcganGenerator(z_dim=8, base_channels=4), tmp_path / "dc", {"kind": "generator",
                                                                               "class_names": NAMES})
    with TestClient(create_app(Settings(checkpoint_dir=tmp_path, log_level="warning"))) as c:
        assert c.get("/models/dc").json()["class_names"] == NAMES
        err = error(c.post("/generate", json={"model": "dc", "label": "bag"}))
        assert "takes no label" in err["msg"]


@pytest.mark.parametrize("names", [NAMES[:9], NAMES[:9] + ["bag"], NAMES[:9] + [7], "sneaker", NAMES[:9] + [""]])
def test_bad_class_names_in_a_card_make_that_model_unavailable(tmp_path, names):
    tiny_cgan(tmp_path / "bad", class_names=names)
    tiny_cgan(tmp_path / "good", class_names=NAMES)
    with TestClient(create_app(Settings(checkpoint_dir=tmp_path, log_level="warning"))) as c:
        ready = c.get("/readyz").json()
    assert ready["models"] == ["good"]
    assert "bad.json" in ready["unavailable"]["bad"] and "class_names" in ready["unavailable"]["bad"]
    json.dumps(ready)  # the reason is plain text
