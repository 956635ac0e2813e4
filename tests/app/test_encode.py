"""POST /infogan/encode: InfoGAN's Q reading digits, in-process against the real app and the shipped checkpoints."""

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
from models import Generator
from models.checkpoint import load_checkpoint
from models.images import mnist_like
from models.infogan import InfoganDiscriminator
from tests.helpers import CHECKPOINTS
from training.data import load_dataset
from training.evaluate import evaluate_encoder

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def client(shipped_client):
    return shipped_client


@pytest.fixture(scope="module")
def held_out_digits():
    images, labels = load_dataset("mnist-10k", "test")
    return images[:40, 0].numpy().astype(np.uint8), labels[:40].tolist()


def png(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def as_json(image: bytes, model: str = "infogan-mnist") -> dict:
    return {"model": model, "image": base64.b64encode(image).decode()}


def test_real_digits_of_any_size_and_polarity_are_read(client, held_out_digits):
    """Held-out digits as a user would send them: enlarged, black on white or white on black, PNG or JPEG, by
    JSON or multipart. The evaluator's figure for the 1,000 held-out digits is in the card."""
    images, labels = held_out_digits
    right = 0
    for i, (pixels, label) in enumerate(zip(images, labels, strict=True)):
        img = Image.fromarray(pixels if i % 2 else 255 - pixels).resize((28 + 7 * i, 28 + 7 * i), Image.BILINEAR)
        data = png(img, "JPEG" if i % 4 == 3 else "PNG")
        if i % 3 == 0:
            r = client.post("/infogan/encode", data={"model": "infogan-mnist"},
                            files={"image": ("digit.png", data, "image/png")})
        else:
            r = client.post("/infogan/encode", json=as_json(data))
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["probabilities"]) == 10 and abs(sum(body["probabilities"]) - 1) < 1e-3
        assert body["digit_probabilities"][body["digit"]] == max(body["digit_probabilities"])
        assert len(body["codes"]) == 2
        seen = np.asarray(Image.open(io.BytesIO(base64.b64decode(body["seen"]))))
        assert seen.shape == (28, 28) and seen[0].max() < 64 and seen.max() > 200  # white digit on black, centred
        right += body["digit"] == label
    assert right >= 36, f"{right} of 40 read right"  # the card says 95.6% on 1,000


def test_json_and_multipart_and_a_data_url_give_the_same_answer(client, held_out_digits):
    data = png(Image.fromarray(held_out_digits[0][5]).resize((140, 140)))
    a = client.post("/infogan/encode", json=as_json(data)).json()
    b = client.post("/infogan/encode", data={"model": "infogan-mnist"}, files={"image": ("d.png", data)}).json()
    c = client.post("/infogan/encode", json={"model": "infogan-mnist",
                                             "image": "data:image/png;base64," + base64.b64encode(data).decode()})
    assert a == b == c.json()


def test_q_reads_back_the_category_and_codes_the_generator_was_given(client):
    """A round trip: generate with a category and codes, encode the PNG; Q gives the category back, and each code
    in order: swept from -1 to 1 with the other at 0, its reading rises with it. (Not the values themselves: z moves
    slant and width too, and the drawing path re-frames a thick digit to MNIST's 20-pixel box, which thins it; read
    back, the codes of the shipped pair are off by up to 0.9 at the ends of the range.)"""
    sweep = [-1.0, -0.5, 0.0, 0.5, 1.0]
    for category in (0, 3, 7):
        for k in (0, 1):
            read = []
            for value in sweep:
                codes = [0.0, 0.0]
                codes[k] = value
                image = client.post("/generate", json={"model": "infogan-mnist", "seed": 11, "category": category,
                                                       "codes": codes, "scale": 4}).content
                body = client.post("/infogan/encode", json=as_json(image)).json()
                assert body["category"] == category
                read.append(body["codes"][k])
            assert np.corrcoef(sweep, read)[0, 1] >= 0.9 and read[-1] - read[0] >= 1.0, (category, k, read)


def test_the_cards_encoder_figures_are_measured_and_meet_the_goals():
    G, card = load_checkpoint(CHECKPOINTS / "infogan-mnist", expected_class=Generator)
    D, d_card = load_checkpoint(CHECKPOINTS / "infogan-mnist-discriminator", expected_class=InfoganDiscriminator)
    m = card["metrics"]
    assert m["q_real_digit_accuracy"] >= 0.90 and m["q_category_recovery"] >= 0.98
    assert min(m["q_code_correlation"]) >= 0.9
    assert d_card["generator_sha256"] == card["sha256"]
    torch.manual_seed(0)
    again = evaluate_encoder(D, G, m["category_to_digit"], n=1000)
    assert again["q_real_digit_accuracy"] == m["q_real_digit_accuracy"]  # the same 1,000 held-out digits
    assert again["q_category_recovery"] >= 0.98 and min(again["q_code_correlation"]) >= 0.9


@pytest.mark.parametrize("body, field, words", [
    (as_json(b"hello"), "image", "is not an image"),
    (as_json(b""), "image", "empty"),
    ({"model": "infogan-mnist", "image": "not base64!"}, "image", "not valid base64"),
    ({"model": "infogan-mnist"}, "image", "Field required"),
    (as_json(png(Image.new("L", (64, 64), 255))), "image", "no digit found"),
    (as_json(png(Image.new("1", (3000, 2000), 0))), "image", "3000x2000 pixels; at most 4194304 are accepted"),
    (as_json(png(Image.new("1", (5000, 4000), 0))), "image", "its sides may be at most 4096 pixels"),
    (as_json(png(Image.new("1", (4000, 100), 0))), "image", "at most 16 times its shorter"),
    (as_json(png(Image.new("1", (16_000_000, 1), 0))), "image", "its sides may be at most 4096"),
    ({"model": "infogan-mnist", "image": "data:abc"}, "image", "data: URL without ';base64,'"),
    ({"model": "infogan-mnist", "image": "data:"}, "image", "data: URL without ';base64,'"),
    ({"model": "infogan-mnist", "image": "data:image/png;base64"}, "image", "data: URL without ';base64,'"),
    (as_json(png(Image.new("L", (28, 28))), "dcgan-mnist"), "model", "has no InfoGAN encoder"),
    (as_json(png(Image.new("L", (28, 28)))[:40]), "image", "image"),  # a truncated PNG
])
def test_bad_images_get_a_422_naming_the_field(client, body, field, words):
    r = client.post("/infogan/encode", json=body)
    assert r.status_code == 422, r.text
    (err,) = r.json()["detail"]
    assert err["loc"] == ["body", field] and words in err["msg"], err


def test_other_bodies_are_refused_clearly(client):
    r = client.post("/infogan/encode", json=as_json(b"x", "nope"))
    assert r.status_code == 404 and "unknown model" in r.text
    r = client.post("/infogan/encode", content=b"123", headers={"content-type": "text/plain"})
    assert r.status_code == 415 and r.json()["detail"][0]["type"] == "unsupported_media_type"
    r = client.post("/infogan/encode", data={"model": "infogan-mnist"}, files={"other": ("a.png", b"1")})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "image"]
    r = client.post("/infogan/encode", files={"image": ("a.png", b"1")})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "model"]
    two = [("image", ("a.png", b"1")), ("image", ("b.png", b"2"))]
    assert client.post("/infogan/encode", data={"model": "infogan-mnist"}, files=two).status_code == 400
    big = {"model": "infogan-mnist", "image": "A" * 300_000}
    assert client.post("/infogan/encode", json=big).status_code == 413  # GAN_MAX_BODY_BYTES, as everywhere


def test_a_q_made_for_another_generator_is_not_served(tmp_path):
    for f in CHECKPOINTS.glob("infogan-mnist*"):
        shutil.copy(f, tmp_path)
    card_path = tmp_path / "infogan-mnist-discriminator.json"
    card = json.loads(card_path.read_text())
    card["generator_sha256"] = "0" * 64
    card_path.write_text(json.dumps(card))
    with TestClient(create_app(Settings(checkpoint_dir=tmp_path, log_level="warning"))) as c:
        assert "infogan-mnist-discriminator" in c.get("/readyz").json()["unavailable"]
        r = c.post("/infogan/encode", json=as_json(png(Image.new("L", (28, 28)))))
        assert r.status_code == 422 and "has no InfoGAN encoder" in r.text
        assert c.post("/generate", json={"model": "infogan-mnist"}).status_code == 200  # G serves on


def test_mnist_like_preparation_centres_and_scales_the_ink():
    img = Image.new("L", (300, 200), 255)
    img.paste(0, (200, 20, 230, 180))  # a black bar, off centre, on white
    x = mnist_like(img)[0, 0]
    ink = (x > 0).nonzero()
    assert x.shape == (28, 28) and x.max() == 1 and x.min() == -1
    assert ink[:, 0].max() - ink[:, 0].min() + 1 == 20  # the longer side is 20 pixels, as MNIST's
    centre = ink.float().mean(0)
    assert (centre - 13.5).abs().max() < 1.0  # centre of mass in the middle
