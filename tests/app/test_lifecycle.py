"""Models that change while serving, in process: a published checkpoint is loaded beside the old version and swapped
in; a broken one is refused while the old version serves on; removal stops serving; every answer names its version;
the admin route exists only with GAN_ADMIN_KEYS and reads nothing outside the folders."""

from __future__ import annotations

import gc
import json
import shutil
import time
import weakref
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from models.checkpoint import pending_card_path
from models.files import atomic_rename, atomic_write_bytes
from tests.helpers import CHECKPOINTS, shipped_settings

pytestmark = pytest.mark.unit
ADMIN = {"Authorization": "Bearer admin-key"}


def publish(source: str, folder: Path, name: str) -> str:
    """Publishes ``source``'s checkpoint as ``name`` the way training writes one: pending card, weights, card.
    Returns its version."""
    card = json.loads((CHECKPOINTS / f"{source}.json").read_text()) | {"name": name}
    card_path = folder / f"{name}.json"
    atomic_write_bytes(pending_card_path(card_path), json.dumps(card).encode())
    atomic_write_bytes(folder / f"{name}.safetensors", (CHECKPOINTS / f"{source}.safetensors").read_bytes())
    atomic_rename(pending_card_path(card_path), card_path)
    return card["sha256"][:12]


@pytest.fixture
def folder(tmp_path):
    publish("dcgan-mnist", tmp_path, "m")
    return tmp_path


def client_for(folder: Path, **settings) -> TestClient:
    return TestClient(create_app(shipped_settings(checkpoint_dir=folder, watch=False, admin_keys=["admin-key"],
                                                  **settings)))


def version_of(client: TestClient, seed: int = 1) -> str:
    r = client.post("/generate", json={"model": "m", "seed": seed})
    assert r.status_code == 200, r.text
    return r.headers["x-model-version"]


def test_a_published_version_is_swapped_in_and_every_answer_names_it(folder):
    first = json.loads((CHECKPOINTS / "dcgan-mnist.json").read_text())["sha256"][:12]
    with client_for(folder) as c:
        assert version_of(c) == first
        before = c.post("/generate", json={"model": "m", "seed": 5, "n": 2, "format": "json"}).json()
        assert before["model_version"] == first
        second = publish("dcgan-fashion", folder, "m")
        report = c.post("/admin/reload", headers=ADMIN).json()
        assert report["loaded"] == {"m": second} and not report["refused"]
        assert version_of(c) == second
        card = c.get("/models/m").json()
        assert card["version"] == second and card["loaded_at"] and card["dataset"] != "mnist-10k"
        assert c.get("/readyz").json()["versions"] == {"m": second}
        metrics = c.get("/metrics").text
        assert f'gan_model_info{{model="m",version="{second}"}} 1.0' in metrics
        assert f'version="{first}"' not in metrics and 'gan_model_reloads_total{outcome="loaded"} 2.0' in metrics
        assert c.post("/admin/reload", headers=ADMIN).json()["unchanged"] == ["m"]  # nothing changed since
        publish("dcgan-mnist", folder, "m")  # rolling back is publishing the old files again
        c.post("/admin/reload", headers=ADMIN)
        assert version_of(c) == first
        again = c.post("/generate", json={"model": "m", "seed": 5, "n": 2, "format": "json"}).json()
        assert again["images"] == before["images"]  # the same version gives the same images


@pytest.mark.parametrize("damage", ["garbage", "truncated", "card-sha256", "half-written", "nan", "other-class"])
def test_a_broken_version_is_refused_and_the_old_one_serves_on(folder, damage):
    weights, card_path = folder / "m.safetensors", folder / "m.json"
    with client_for(folder) as c:
        old = version_of(c)
        expected = c.post("/generate", json={"model": "m", "seed": 9}).content
        if damage == "garbage":
            weights.write_bytes(b"\x00not a safetensors file" * 100)
        elif damage == "truncated":
            weights.write_bytes(weights.read_bytes()[:5000])
        elif damage == "card-sha256":
            card = json.loads(card_path.read_text()) | {"sha256": "0" * 64}
            card_path.write_text(json.dumps(card))
        elif damage == "half-written":  # new weights, and the card that vouches for them never written
            weights.write_bytes((CHECKPOINTS / "dcgan-fashion.safetensors").read_bytes())
        elif damage == "nan":
            import torch
            from safetensors.torch import load, save

            tensors = load(weights.read_bytes())
            first = sorted(tensors)[0]
            tensors[first] = torch.full_like(tensors[first], float("nan"))
            data = save(tensors, metadata={"format_version": "1"})
            import hashlib

            weights.write_bytes(data)
            card_path.write_text(json.dumps(json.loads(card_path.read_text()) | {
                "sha256": hashlib.sha256(data).hexdigest()}))
        elif damage == "other-class":  # a CGAN's card over the DCGAN weights
            card_path.write_text((CHECKPOINTS / "cgan-mnist.json").read_text())
        report = c.post("/admin/reload", headers=ADMIN).json()
        assert set(report["refused"]) == {"m"} and not report["loaded"]
        ready = c.get("/readyz").json()
        assert ready["versions"] == {"m": old} and "m" in ready["refused"] and "/" not in ready["refused"]["m"]
        assert c.get("/models/m").json()["refused"] == ready["refused"]["m"]
        answer = c.post("/generate", json={"model": "m", "seed": 9})
        assert answer.headers["x-model-version"] == old and answer.content == expected
        assert 'gan_model_reloads_total{outcome="refused"} 1.0' in c.get("/metrics").text
        fixed = publish("cgan-mnist", folder, "m")  # a good file then loads, without a restart
        assert c.post("/admin/reload", headers=ADMIN).json()["loaded"] == {"m": fixed}
        assert version_of(c) == fixed and "m" not in c.get("/readyz").json()["refused"]


def test_a_model_that_never_loaded_is_fixed_by_publishing_a_good_file(tmp_path):
    (tmp_path / "m.safetensors").write_bytes(b"garbage")
    (tmp_path / "m.json").write_text("{}")
    with client_for(tmp_path) as c:
        assert c.post("/generate", json={"model": "m"}).status_code == 503
        publish("gan-mnist", tmp_path, "m")
        c.post("/admin/reload", headers=ADMIN)
        assert c.post("/generate", json={"model": "m", "seed": 1}).status_code == 200
        assert c.get("/readyz").json()["unavailable"] == {}


def test_weights_without_a_card_are_listed_as_unavailable(tmp_path):
    shutil.copy(CHECKPOINTS / "gan-mnist.safetensors", tmp_path / "lonely.safetensors")
    with client_for(tmp_path) as c:
        reason = c.get("/readyz").json()["unavailable"]["lonely"]
        assert "lonely.json is missing" in reason


def test_a_removed_checkpoint_stops_serving(folder):
    with client_for(folder) as c:
        assert c.post("/generate", json={"model": "m"}).status_code == 200
        for suffix in ("json", "safetensors"):
            (folder / f"m.{suffix}").unlink()
        assert c.post("/admin/reload", headers=ADMIN).json()["removed"] == ["m"]
        assert c.post("/generate", json={"model": "m"}).status_code == 404
        assert c.get("/readyz").status_code == 503  # nothing left to serve
        assert 'gan_model_info{model="m"' not in c.get("/metrics").text


def test_after_a_swap_one_copy_of_the_model_is_left(folder):
    with client_for(folder) as c:
        old = weakref.ref(c.app.state.service.registry.models["m"].G)
        version_of(c)
        publish("dcgan-fashion", folder, "m")
        c.post("/admin/reload", headers=ADMIN)
        version_of(c)
        deadline = time.monotonic() + 5
        while old() is not None and time.monotonic() < deadline:  # its batcher closes once its work is done
            gc.collect()
            time.sleep(0.05)
        assert old() is None  # the replaced version is gone from memory


def test_the_admin_routes_exist_only_with_admin_keys_and_take_only_those(folder):
    with TestClient(create_app(shipped_settings(checkpoint_dir=folder, watch=False))) as c:
        assert c.post("/admin/reload").status_code == 404
        assert c.post("/admin/reload/m").status_code == 404
    with client_for(folder, api_keys=["api-key"]) as c:
        assert c.post("/admin/reload").status_code == 401
        assert c.post("/admin/reload", headers={"Authorization": "Bearer api-key"}).status_code == 401
        assert c.post("/admin/reload", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.post("/admin/reload", headers=ADMIN).status_code == 200
        assert c.post("/generate", json={"model": "m"}, headers=ADMIN).status_code == 401  # not an API key
        for name in ("..%2F..%2Fetc%2Fpasswd", "nope", "%2Fetc%2Fpasswd"):
            r = c.post(f"/admin/reload/{name}", headers=ADMIN)
            assert r.status_code in (404, 422), (name, r.status_code)
        assert c.post("/admin/reload/m", headers=ADMIN).json()["unchanged"] == ["m"]


def test_a_link_out_of_the_folder_is_refused(folder, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    publish("cgan-mnist", outside, "x")
    with client_for(folder) as c:
        for suffix in ("json", "safetensors"):
            (folder / f"x.{suffix}").symlink_to(outside / f"x.{suffix}")
        report = c.post("/admin/reload", headers=ADMIN).json()
        assert "x" in report["refused"] and "outside the checkpoint folder" in report["refused"]["x"]
        assert c.post("/generate", json={"model": "x"}).status_code == 503


def test_the_watcher_takes_a_published_checkpoint(folder):
    with TestClient(create_app(shipped_settings(checkpoint_dir=folder))) as c:
        first = version_of(c)
        second = publish("dcgan-fashion", folder, "m")
        deadline = time.monotonic() + 15
        while version_of(c) == first and time.monotonic() < deadline:
            time.sleep(0.2)
        assert version_of(c) == second
        publish("gan-mnist", folder, "new-one")  # a new name too
        while c.post("/generate", json={"model": "new-one"}).status_code != 200 and time.monotonic() < deadline + 10:
            time.sleep(0.2)
        assert c.post("/generate", json={"model": "new-one"}).status_code == 200
