"""The service through a real HTTP client against the real app (uvicorn) and the shipped checkpoints."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import shutil

import httpx
import numpy as np
import pytest
import torch
from PIL import Image

from models import DigitClassifier
from models.checkpoint import load_checkpoint
from tests.helpers import CHECKPOINTS, REPO_ROOT, shipped_generators
from tests.server import running_server

pytestmark = pytest.mark.integration

MODELS = ["gan-mnist", "dcgan-mnist", "cgan-mnist", "infogan-mnist"]


@pytest.fixture(scope="module")
def url():
    with running_server({"GAN_CHECKPOINT_DIR": CHECKPOINTS, "GAN_MAX_WAIT_MS": "5"}) as base:
        yield base


@pytest.fixture
def client(url):
    with httpx.Client(base_url=url, timeout=30) as c:
        yield c


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def json_images(response: httpx.Response) -> list[np.ndarray]:
    assert response.status_code == 200, response.text
    return [pixels(base64.b64decode(img["png"])) for img in response.json()["images"]]


def test_health_ready_and_model_cards(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["ready"] and set(MODELS) <= set(ready["models"])
    cards = {c["name"]: c for c in client.get("/models").json()}
    assert set(MODELS) <= set(cards)
    assert cards["cgan-mnist"]["family"] == "cgan" and cards["cgan-mnist"]["num_classes"] == 10
    info = client.get("/models/infogan-mnist").json()
    assert info["num_categories"] == 10 and info["num_continuous"] == 2 and info["z_dim"] > 0
    assert "frechet_distance" in info["metrics"]
    assert cards["gan-mnist"]["num_classes"] is None and cards["gan-mnist"]["image_size"] == 28


@pytest.mark.parametrize("model", MODELS)
def test_generate_png(client, model):
    r = client.post("/generate", json={"model": model, "seed": 5})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert pixels(r.content).shape == (28, 28)
    assert r.headers["x-seed"] == "5"
    grid = client.post("/generate", json={"model": model, "seed": 5, "n": 16, "columns": 8, "scale": 2})
    assert pixels(grid.content).shape == (2 * (2 * 30 + 2), 2 * (8 * 30 + 2))


def test_generate_json_seeds_and_latents(client):
    r = client.post("/generate", json={"model": "infogan-mnist", "n": 3, "format": "json", "return_latents": True})
    body = r.json()
    seeds = [img["seed"] for img in body["images"]]
    assert seeds == [body["seed"], body["seed"] + 1, body["seed"] + 2]  # a drawn seed is returned
    first = body["images"][0]
    z_dim = client.get("/models/infogan-mnist").json()["z_dim"]
    assert 0 <= first["category"] < 10 and len(first["codes"]) == 2 and len(first["z"]) == z_dim


def test_same_seed_same_bytes_and_image_i_is_seed_plus_i(client):
    body = {"model": "dcgan-mnist", "seed": 123, "n": 6, "format": "json"}
    a, b = client.post("/generate", json=body), client.post("/generate", json=body)
    assert [i["png"] for i in a.json()["images"]] == [i["png"] for i in b.json()["images"]]
    png = client.post("/generate", json={"model": "dcgan-mnist", "seed": 123}).content
    assert client.post("/generate", json={"model": "dcgan-mnist", "seed": 123}).content == png
    fourth = json_images(client.post("/generate", json={"model": "dcgan-mnist", "seed": 126, "format": "json"}))[0]
    assert np.abs(json_images(a)[3].astype(int) - fourth.astype(int)).max() <= 1


def test_labels_per_image_and_get_form(client):
    r = client.post("/generate", json={"model": "cgan-mnist", "seed": 1, "n": 3, "labels": [1, 2, 3],
                                       "format": "json"})
    assert [i["label"] for i in r.json()["images"]] == [1, 2, 3]
    rows = client.post("/generate", json={"model": "cgan-mnist", "seeds": [8, 8, 9], "labels": [0, 5, 0],
                                          "format": "json"}).json()["images"]
    assert [(i["seed"], i["label"]) for i in rows] == [(8, 0), (8, 5), (9, 0)]
    get = client.get("/models/cgan-mnist/sample.png", params={"seed": 4, "label": 7})
    post = client.post("/generate", json={"model": "cgan-mnist", "seed": 4, "label": 7})
    assert get.status_code == 200 and get.content == post.content
    codes = client.get("/models/infogan-mnist/sample.png", params={"seed": 1, "category": 2, "codes": "0.5,-1"})
    assert codes.status_code == 200


def test_concurrent_requests_are_batched_without_changing_pixels(url, client):
    seeds = list(range(1000, 1064))
    alone = {s: pixels(client.post("/generate", json={"model": "dcgan-mnist", "seed": s}).content) for s in seeds}

    async def burst() -> list[bytes]:
        async with httpx.AsyncClient(base_url=url, timeout=60,
                                     limits=httpx.Limits(max_connections=64)) as c:
            rs = await asyncio.gather(*(c.post("/generate", json={"model": "dcgan-mnist", "seed": s}) for s in seeds))
        return [r.content for r in rs]

    def batch_count() -> float:
        lines = client.get("/metrics").text.splitlines()
        return sum(float(line.split()[-1]) for line in lines
                   if line.startswith('gan_batch_size_count{model="dcgan-mnist"}'))

    before = batch_count()
    together = asyncio.run(burst())
    batches = batch_count() - before
    for s, png in zip(seeds, together, strict=True):
        assert np.abs(pixels(png).astype(int) - alone[s].astype(int)).max() <= 1, s
    assert batches < len(seeds)  # some requests shared a forward pass


def test_cgan_images_read_as_their_label(client):
    classifier, _ = load_checkpoint(REPO_ROOT / "checkpoints" / "classifier-mnist", expected_class=DigitClassifier)
    labels = [d for d in range(10) for _ in range(20)]
    r = client.post("/generate", json={"model": "cgan-mnist", "seed": 77, "n": 200, "labels": labels,
                                       "format": "json"})
    images = torch.tensor(np.stack(json_images(r)), dtype=torch.float32)[:, None] / 127.5 - 1
    with torch.inference_mode():
        preds = classifier(images).argmax(1)
    assert (preds == torch.tensor(labels)).float().mean().item() >= 0.95


def test_interpolation_end_frames_equal_the_end_images(client):
    r = client.post("/latent/interpolate", json={"model": "cgan-mnist", "start": {"seed": 10}, "end": {"seed": 11},
                                                 "steps": 7, "format": "json"})
    frames = json_images(r)
    assert len(frames) == 7 and [f["t"] for f in r.json()["images"]][::6] == [0.0, 1.0]
    start = json_images(client.post("/generate", json={"model": "cgan-mnist", "seed": 10, "format": "json"}))[0]
    end = json_images(client.post("/generate", json={"model": "cgan-mnist", "seed": 11, "format": "json"}))[0]
    assert np.abs(frames[0].astype(int) - start).max() <= 1 and np.abs(frames[-1].astype(int) - end).max() <= 1
    assert np.abs(frames[3].astype(int) - start).max() > 10  # the middle differs
    strip = client.post("/latent/interpolate", json={"model": "gan-mnist", "start": {"seed": 1},
                                                     "end": {"z": [0.0] * 100}, "steps": 5, "method": "lerp"})
    assert pixels(strip.content).shape == (32, 5 * 30 + 2)


def test_latent_arithmetic(client):
    terms = [{"seeds": [1, 2, 3]}, {"seeds": [4, 5, 6], "weight": -1}, {"seeds": [7, 8, 9], "weight": 1}]
    r = client.post("/latent/arithmetic", json={"model": "dcgan-mnist", "terms": terms, "neighbors": 8,
                                                "format": "json"})
    body = r.json()
    assert len(body["images"]) == 9 and len(body["terms"]) == 3
    z = [torch.tensor(client.post("/generate", json={"model": "dcgan-mnist", "seed": s, "n": 3, "format": "json",
                                                     "return_latents": True}).json()["images"][i]["z"])
         for s in (1, 4, 7) for i in range(3)]
    expected = torch.stack(z[0:3]).mean(0) - torch.stack(z[3:6]).mean(0) + torch.stack(z[6:9]).mean(0)
    assert torch.allclose(torch.tensor(body["images"][0]["z"]), expected, atol=1e-5)
    noise = torch.tensor([img["z"] for img in body["images"][1:]]) - expected
    assert noise.abs().max() <= 0.25 + 1e-5 and noise.abs().max() > 0.1
    png = client.post("/latent/arithmetic", json={"model": "cgan-mnist", "terms": terms[:1], "label": 3})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"


def test_infogan_sweeps(client):
    r = client.post("/infogan/sweep", json={"model": "infogan-mnist", "seed": 3, "vary": 0, "steps": 5,
                                            "format": "json"})
    body = r.json()
    assert body["values"] == [-2.0, -1.0, 0.0, 1.0, 2.0] and body["rows"] == 10
    assert [img["codes"][0] for img in body["images"][:5]] == body["values"]
    assert [img["category"] for img in body["images"][::5]] == list(range(10))
    grid = client.post("/infogan/sweep", json={"model": "infogan-mnist", "vary": "category", "rows": 2})
    assert pixels(grid.content).shape == (2 * 30 + 2, 10 * 30 + 2)


BAD_INPUTS = [
    ({"model": "nope"}, 404, "available"),
    ({"model": "gan-mnist", "n": 0}, 422, "n"),
    ({"model": "gan-mnist", "n": 257}, 422, "n"),
    ({"model": "gan-mnist", "seed": -1}, 422, "seed"),
    ({"model": "gan-mnist", "label": 3}, 422, "label"),
    ({"model": "cgan-mnist", "label": 10}, 422, "label"),
    ({"model": "cgan-mnist", "labels": [1, 2]}, 422, "labels"),
    ({"model": "infogan-mnist", "category": 10}, 422, "category"),
    ({"model": "infogan-mnist", "codes": [0.1]}, 422, "codes"),
    ({"model": "dcgan-mnist", "codes": [0.1, 0.2]}, 422, "codes"),
    ({"model": "gan-mnist", "format": "gif"}, 422, "format"),
    ({"model": "gan-mnist", "colour": "red"}, 422, "colour"),
    ({"model": "gan-mnist", "seed": 1, "seeds": [1, 2]}, 422, "seeds"),
    ({"model": "gan-mnist", "seeds": [1] * 300}, 422, "n"),
]


@pytest.mark.parametrize("body, status, field", BAD_INPUTS)
def test_bad_generate_inputs_get_a_4xx_naming_the_field(client, body, status, field):
    r = client.post("/generate", json=body)
    assert r.status_code == status, r.text
    assert field in json.dumps(r.json()["detail"])


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/latent/interpolate", {"model": "dcgan-mnist", "start": {"seed": 1}, "end": {"z": [0.1] * 5}}, "z"),
        ("/latent/interpolate", {"model": "dcgan-mnist", "start": {"seed": 1}, "end": {"seed": 2}, "steps": 65},
         "steps"),
        ("/latent/interpolate", {"model": "dcgan-mnist", "start": {"seed": 1, "z": [0.0]}, "end": {"seed": 2}},
         "start"),
        ("/latent/arithmetic", {"model": "dcgan-mnist", "terms": [{"seeds": [1]}], "neighbors": 9}, "neighbors"),
        ("/latent/arithmetic", {"model": "dcgan-mnist", "terms": [{"z": [1.0] * 99}]}, "z"),
        ("/latent/arithmetic", {"model": "dcgan-mnist", "terms": []}, "terms"),
        ("/infogan/sweep", {"model": "dcgan-mnist"}, "model"),
        ("/infogan/sweep", {"model": "infogan-mnist", "vary": 2}, "vary"),
    ],
)
def test_bad_latent_inputs(client, path, body, field):
    r = client.post(path, json=body)
    assert r.status_code == 422, r.text
    assert field in json.dumps(r.json()["detail"])


def test_non_finite_numbers_malformed_json_and_oversized_bodies(client):
    nan = '{"model": "gan-mnist", "terms": [{"z": [NaN' + ", 0.0" * 99 + "]}]}"
    r = client.post("/latent/arithmetic", content=nan, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "finite" in r.text
    inf = '{"model": "infogan-mnist", "codes": [Infinity, 0]}'
    assert client.post("/generate", content=inf, headers={"content-type": "application/json"}).status_code == 422
    bad = client.post("/generate", content=b'{"model": ', headers={"content-type": "application/json"})
    assert bad.status_code == 422 and "json" in bad.text.lower()
    huge = client.post("/generate", content=b"[" + b"0," * 200_000 + b"0]",
                       headers={"content-type": "application/json"})
    assert huge.status_code == 413 and "larger than" in huge.text
    assert client.get("/models/gan-mnist/sample.png", params={"codes": "a,b"}).status_code == 422
    assert client.get("/models/nope").status_code == 404


def test_metrics_count_requests_images_and_batches(client):
    client.post("/generate", json={"model": "gan-mnist", "n": 4})
    text = client.get("/metrics").text
    assert 'gan_http_requests_total{method="POST",route="/generate",status="200"}' in text
    assert 'gan_http_request_duration_seconds_bucket{le="0.001",method="POST",route="/generate"}' in text
    assert 'gan_images_generated_total{model="gan-mnist"}' in text
    assert "gan_batch_size_bucket" in text
    assert "gan_http_requests_in_flight 1.0" in text  # the /metrics request itself; none left over


def test_openapi_documents_every_route(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/generate", "/latent/arithmetic", "/latent/interpolate", "/infogan/sweep", "/models",
                 "/models/{name}/sample.png", "/healthz", "/readyz", "/metrics"):
        assert path in paths
    assert "image/png" in paths["/generate"]["post"]["responses"]["200"]["content"]


def test_a_corrupt_checkpoint_leaves_the_others_serving(tmp_path):
    for f in os.listdir(CHECKPOINTS):
        if f.startswith(("dcgan-mnist", "cgan-mnist")):
            shutil.copy(os.path.join(CHECKPOINTS, f), tmp_path / f)
    weights = tmp_path / "cgan-mnist.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    (tmp_path / "garbage.json").write_text("{ not a card")
    with running_server({"GAN_CHECKPOINT_DIR": str(tmp_path)}) as base, httpx.Client(base_url=base) as c:
        ready = c.get("/readyz").json()
        assert ready["models"] == ["dcgan-mnist"]
        assert "cgan-mnist.safetensors" in ready["unavailable"]["cgan-mnist"]
        assert "garbage" in ready["unavailable"]
        assert c.post("/generate", json={"model": "dcgan-mnist"}).status_code == 200
        broken = c.post("/generate", json={"model": "cgan-mnist"})
        assert broken.status_code == 503 and "cgan-mnist" in broken.json()["detail"][0]["msg"]
        assert str(tmp_path) not in c.get("/readyz").text + broken.text  # names, never paths


def test_an_extra_checkpoint_folder_adds_models(tmp_path):
    from tests.app.test_lifecycle import publish

    main_dir, extra_dir = tmp_path / "main", tmp_path / "extra"
    main_dir.mkdir(), extra_dir.mkdir()
    for f in os.listdir(CHECKPOINTS):
        if f.startswith("dcgan-mnist"):
            shutil.copy(os.path.join(CHECKPOINTS, f), main_dir / f)
    publish("gan-mnist", extra_dir, "my-gan")  # a copy under another name: its card names it so
    env = {"GAN_CHECKPOINT_DIR": str(main_dir), "GAN_EXTRA_CHECKPOINT_DIR": str(extra_dir)}
    with running_server(env) as base, httpx.Client(base_url=base) as c:
        assert c.get("/readyz").json()["models"] == ["dcgan-mnist", "my-gan"]
        assert c.post("/generate", json={"model": "my-gan", "seed": 1}).status_code == 200


def test_npy_format_gives_the_png_pixels_without_encoding(client):
    body = {"model": "cgan-mnist", "n": 5, "seed": 11, "label": 4}
    r = client.post("/generate", json=body | {"format": "npy"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-npy"
    array = np.load(io.BytesIO(r.content), allow_pickle=False)
    assert array.dtype == np.uint8 and array.shape == (5, 28, 28, 1)
    assert r.headers["x-shape"] == "5,28,28,1" and r.headers["x-seed"] == "11"
    pngs = json_images(client.post("/generate", json=body | {"format": "json"}))
    assert all(np.array_equal(array[i, :, :, 0], pngs[i]) for i in range(5))


@pytest.mark.parametrize(("channels_last", "fold"), [(True, False), (False, True), (True, True)])
def test_the_faster_paths_keep_every_checkpoints_pixels(tmp_path, channels_last, fold):
    """The faster memory format and batch norm folded into the layer before it give images within 1 grey level
    of the eager contiguous model, for every shipped generator; the loaded model itself is left as it was."""
    from app.config import Settings
    from app.runner import Runner

    def norms(module):
        return sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in module.modules())

    for name in shipped_generators():
        G, _ = load_checkpoint(os.path.join(CHECKPOINTS, name))
        before = norms(G)
        latents = G.latents_for_seeds(range(64))
        with torch.inference_mode():
            eager = (G(latents).clamp(-1, 1) + 1) * 127.5
        settings = Settings(channels_last=channels_last, fold_batch_norm=fold, checkpoint_dir=tmp_path)
        forward = Runner(settings).forward_fn(G)
        fast = forward(latents)
        diff = np.abs(fast.astype(np.int16) - eager.round().permute(0, 2, 3, 1).numpy().astype(np.int16))
        assert diff.max() <= 1, (name, int(diff.max()))
        assert before > 0 and norms(G) == before  # every generator has batch norm; the loaded one keeps it
        if fold:  # the running copy has none left
            assert norms(forward.G) == 0, name


def test_another_models_files_copied_over_a_checkpoint_are_refused(tmp_path):
    """Issue 25: dcgan-mnist's files copied over cgan-mnist's were served as cgan-mnist; its card names dcgan-mnist."""
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.helpers import shipped_settings

    for suffix in ("json", "safetensors"):
        shutil.copy(os.path.join(CHECKPOINTS, f"dcgan-mnist.{suffix}"), tmp_path / f"cgan-mnist.{suffix}")
    with TestClient(create_app(shipped_settings(checkpoint_dir=tmp_path, watch=False))) as c:
        assert c.post("/generate", json={"model": "cgan-mnist", "label": 1}).status_code == 503
        assert "names the model 'dcgan-mnist'" in c.get("/readyz").json()["unavailable"]["cgan-mnist"]
