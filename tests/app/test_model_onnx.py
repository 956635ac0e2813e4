"""GET /models/{name}/model.onnx: each generator as an ONNX graph for the demo page's browser runtime, exported once
per loaded version, with a strong ETag that names the checkpoint and the exporter."""

from __future__ import annotations

import dataclasses
import io
import threading

import numpy as np
import pytest
from fastapi.testclient import TestClient

import models.onnx
from app.main import create_app
from models import Generator
from tests.helpers import CHECKPOINTS, copy_checkpoints, shipped_settings

pytestmark = pytest.mark.unit

MODELS = ("cgan-mnist", "infogan-mnist")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = copy_checkpoints(tmp_path_factory.mktemp("checkpoints"), MODELS)
    with TestClient(create_app(shipped_settings(checkpoint_dir=folder, watch=False))) as c:
        yield c


@pytest.fixture
def exports(monkeypatch):
    """Every export the service runs, with the thread it ran on."""
    made: list[tuple[str, str]] = []
    real = models.onnx.export_onnx

    def counted(G: Generator, card=None, pixels="uint8") -> bytes:
        made.append((card["name"], threading.current_thread().name))
        return real(G, card, pixels)

    monkeypatch.setattr(models.onnx, "export_onnx", counted)
    return made


def fresh(client) -> None:
    client.app.state.service.onnx_exports.clear()


def test_the_file_is_the_graph_of_the_model_that_serves_with_a_strong_etag(client, exports):
    fresh(client)
    r = client.get("/models/cgan-mnist/model.onnx", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert "content-encoding" not in r.headers  # float weights: not worth gzip's CPU
    etag = r.headers["etag"]
    assert etag.startswith('"onnx-') and etag.endswith('"')  # strong
    assert r.headers["cache-control"] == "no-cache"  # kept by the browser, revalidated on each use
    assert r.headers["x-model-version"] == client.get("/models/cgan-mnist").json()["version"]
    assert r.headers["content-disposition"] == 'attachment; filename="cgan-mnist.onnx"'
    assert [name for name, _ in exports] == ["cgan-mnist"]
    assert exports[0][1].startswith("torch")  # on the torch thread, never on the event loop
    assert r.content == client.get("/models/cgan-mnist/model.onnx").content  # kept: exported once
    assert len(exports) == 1
    other = client.get("/models/infogan-mnist/model.onnx")
    assert other.status_code == 200 and other.headers["etag"] != etag


def test_if_none_match_gets_a_304_without_exporting(client, exports):
    fresh(client)
    etag = client.get("/models/infogan-mnist/model.onnx").headers["etag"]
    for given in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        r = client.get("/models/infogan-mnist/model.onnx", headers={"If-None-Match": given})
        assert r.status_code == 304 and r.content == b"", given
        assert r.headers["etag"] == etag and r.headers["cache-control"] == "no-cache"
    fresh(client)
    assert client.get("/models/infogan-mnist/model.onnx", headers={"If-None-Match": etag}).status_code == 304
    assert len(exports) == 1  # the 304s exported nothing
    assert client.get("/models/infogan-mnist/model.onnx", headers={"If-None-Match": '"old"'}).status_code == 200


def test_a_new_version_is_exported_again_under_a_new_etag(client, exports):
    fresh(client)
    registry = client.app.state.service.registry
    first = client.get("/models/cgan-mnist/model.onnx")
    old = registry.models["cgan-mnist"]
    registry.models["cgan-mnist"] = dataclasses.replace(old, version="0123456789ab",
                                                        card=old.card | {"sha256": "0123456789ab" + "0" * 52})
    try:
        second = client.get("/models/cgan-mnist/model.onnx", headers={"If-None-Match": first.headers["etag"]})
        assert second.status_code == 200 and second.headers["etag"] != first.headers["etag"]
        assert second.headers["x-model-version"] == "0123456789ab"
    finally:
        registry.models["cgan-mnist"] = old
    assert [name for name, _ in exports] == ["cgan-mnist", "cgan-mnist"]


@pytest.mark.parametrize("body, name", [
    ({"model": "cgan-mnist", "seeds": [3, 40], "labels": [7, 2], "format": "npy"}, "cgan-mnist"),
    ({"model": "infogan-mnist", "seeds": [5, 6], "category": 4, "codes": [0.5, -1.2], "format": "npy"},
     "infogan-mnist"),
])
def test_the_graph_draws_the_servers_pixels_within_a_grey_level(client, body, name):
    onnxruntime = pytest.importorskip("onnxruntime")
    G = client.app.state.service.registry.get(name).G
    session = onnxruntime.InferenceSession(client.get(f"/models/{name}/model.onnx").content,
                                           providers=["CPUExecutionProvider"])
    labels = body.get("labels")
    latents = G.latents_for_seeds(body["seeds"], labels=labels, categories=body.get("category"),
                                  codes=body.get("codes"))
    drawn = session.run(None, models.onnx.onnx_inputs(G, latents))[0].astype(np.int16)
    served = np.load(io.BytesIO(client.post("/generate", json=body).content)).astype(np.int16)
    assert drawn.shape == served.shape and np.abs(drawn - served).max() <= 1


def test_an_unknown_model_is_a_404_in_the_one_error_shape(client):
    r = client.get("/models/no-such-model/model.onnx")
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"
    (detail,) = r.json()["detail"]
    assert detail["loc"] == ["path", "name"] and detail["type"] == "not_found"
    assert "no-such-model" in detail["msg"] and "cgan-mnist" in detail["msg"]


def test_without_the_onnx_package_a_503_says_what_to_install(client, monkeypatch):
    import app.service

    fresh(client)
    found = app.service.importlib.util.find_spec
    monkeypatch.setattr(app.service.importlib.util, "find_spec", lambda name: None if name == "onnx" else found(name))
    r = client.get("/models/cgan-mnist/model.onnx")
    assert r.status_code == 503 and r.json()["detail"][0]["type"] == "unavailable"
    assert "pip install 'gan-studio[onnx]'" in r.json()["detail"][0]["msg"]


def test_the_file_is_what_training_export_writes(client):
    from models.checkpoint import load_checkpoint

    G, card = load_checkpoint(CHECKPOINTS / "infogan-mnist", expected_class=Generator)
    assert client.get("/models/infogan-mnist/model.onnx").content == models.onnx.export_onnx(G, card)
