"""Checks a running GAN Studio container; run by scripts/container_test.sh through container-check's CHECK_CMD.

    PORT=8799 NAME=gan-studio-check TAG=localhost/gan-studio:check python scripts/container_checks.py

Against the container the tool started (port $PORT, name $NAME, image $TAG): ready with the four models; CGAN
label 7 read as 7 by the project's classifier; seeded requests byte-identical to the app outside the container;
a non-root process that cannot write to the code or the checkpoints; the browser runtime that the host's install
copied into app/static/ort served from the image, and a model's ONNX file; an extra checkpoint mounted at /models
served by a second container; and the compose file's default service up and healthy under podman-compose.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import torch
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
from models import DigitClassifier  # noqa: E402
from models.checkpoint import load_checkpoint  # noqa: E402
from tests.server import free_port, running_server  # noqa: E402

MODELS = {"gan-mnist", "dcgan-mnist", "cgan-mnist", "infogan-mnist", "dcgan-fashion", "cgan-fashion"}
SEEDED = [{"model": "dcgan-mnist", "seed": 123, "n": 16, "scale": 2},
          {"model": "cgan-mnist", "label": 3, "seed": 7, "n": 4},
          {"model": "infogan-mnist", "category": 2, "codes": [0.5, -1], "seed": 9, "n": 3},
          {"model": "cgan-fashion", "label": "sneaker", "seed": 5, "n": 4}]


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check)


def step(name: str) -> None:
    print(f"container check: {name}", flush=True)


def wait_ready(url: str, seconds: float = 120) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            r = httpx.get(url + "/readyz", timeout=2)
            if r.status_code == 200:
                return r.json()
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AssertionError(f"{url} never became ready")


def check_models_and_digits(url: str) -> None:
    step("ready with the four models")
    ready = httpx.get(url + "/readyz").json()
    assert ready["ready"] and MODELS <= set(ready["models"]) and not ready["unavailable"], ready
    step("CGAN label 7 reads as 7")
    r = httpx.post(url + "/generate", json={"model": "cgan-mnist", "label": 7, "n": 16, "seed": 42, "format": "json"},
                   timeout=30)
    assert r.status_code == 200, r.text
    images = np.stack([np.asarray(Image.open(io.BytesIO(base64.b64decode(i["png"])))) for i in r.json()["images"]])
    classifier, _ = load_checkpoint(REPO_ROOT / "checkpoints" / "classifier-mnist", expected_class=DigitClassifier)
    with torch.no_grad():
        x = torch.from_numpy(images).float().div(127.5).sub(1)[:, None]
        digits = classifier(x).argmax(1).tolist()
    assert digits.count(7) >= 14, digits
    png = httpx.post(url + "/generate", json={"model": "cgan-mnist", "label": 7, "n": 16, "seed": 42}, timeout=30)
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")


def check_same_bytes_as_outside(url: str) -> None:
    step("seeded requests give the same bytes inside and outside the container")
    inside = [httpx.post(url + "/generate", json=body, timeout=30).content for body in SEEDED]
    with running_server() as outside_url:
        outside = [httpx.post(outside_url + "/generate", json=body, timeout=30).content for body in SEEDED]
    for body, a, b in zip(SEEDED, inside, outside, strict=True):
        assert a == b, f"{body}: {len(a)} bytes inside, {len(b)} outside, different"


def check_browser_runtime(url: str) -> None:
    step("the page's browser runtime and a model's ONNX file are served")
    onnx = httpx.get(url + "/models/cgan-mnist/model.onnx", timeout=60)
    assert onnx.status_code == 200 and onnx.headers["content-type"] == "application/octet-stream", onnx.text[:300]
    if not (REPO_ROOT / "app" / "static" / "ort" / "ort.wasm.min.mjs").is_file():
        return  # the host had no npm: the image has no runtime either, and the page draws on the server
    page = httpx.get(url + "/").text
    wasm = page.split('data-wasm="', 1)[1].split('"', 1)[0]
    assert wasm.startswith("/static/ort/ort-wasm-simd-threaded.wasm?v="), wasm
    r = httpx.get(url + wasm, headers={"Accept-Encoding": "identity"}, timeout=60)
    assert r.status_code == 200 and r.headers["content-type"] == "application/wasm" and r.content[:4] == b"\0asm"


def check_user_and_read_only_code(name: str) -> None:
    step("a non-root process that cannot write to the code or the checkpoints")
    uid = podman("exec", name, "id", "-u").stdout.strip()
    assert uid != "0", uid
    app_dir = podman("exec", name, "python", "-c", "import app, os; print(os.path.dirname(app.__file__))").stdout
    for target in (app_dir.strip() + "/written", "/app/checkpoints/written", "/opt/venv/bin/written"):
        r = podman("exec", name, "touch", target, check=False)
        assert r.returncode != 0, f"the container user could write {target}"


def check_extra_checkpoint(tag: str) -> None:
    step("an extra checkpoint mounted at /models is served")
    with tempfile.TemporaryDirectory() as extra:
        publish("dcgan-mnist", Path(extra), "my-dcgan")  # under its own name: the card says my-dcgan
        os.chmod(extra, 0o755)
        port, name = free_port(), "gan-studio-extra"
        podman("rm", "-f", name, check=False)
        podman("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8000", "-v", f"{extra}:/models:ro", tag)
        try:
            url = f"http://127.0.0.1:{port}"
            assert "my-dcgan" in wait_ready(url)["models"]
            a = httpx.post(url + "/generate", json={"model": "my-dcgan", "seed": 5}).content
            b = httpx.post(url + "/generate", json={"model": "dcgan-mnist", "seed": 5}).content
            assert a == b and a.startswith(b"\x89PNG")
            check_publishing(url, Path(extra))
        finally:
            podman("rm", "-f", "-t", "2", name, check=False)


def publish(source: str, folder: Path, name: str) -> str:
    """Copies a shipped checkpoint into ``folder`` as ``name``, the way training publishes one: pending card,
    weights, card (each by rename). Returns its version."""
    card = json.dumps(json.loads((REPO_ROOT / "checkpoints" / f"{source}.json").read_text()) | {"name": name}).encode()
    for data, final in ((card, f"{name}.json.pending"),
                        ((REPO_ROOT / "checkpoints" / f"{source}.safetensors").read_bytes(), f"{name}.safetensors")):
        (folder / f".{final}.tmp").write_bytes(data)
        os.chmod(folder / f".{final}.tmp", 0o644)
        os.replace(folder / f".{final}.tmp", folder / final)
    os.replace(folder / f"{name}.json.pending", folder / f"{name}.json")
    return json.loads(card)["sha256"][:12]


def check_publishing(url: str, extra: Path) -> None:
    step("a checkpoint published into the mounted /models is served by the running container")
    version = publish("cgan-mnist", extra, "my-cgan")
    deadline = time.monotonic() + 30
    while "my-cgan" not in httpx.get(url + "/readyz").json()["models"]:
        assert time.monotonic() < deadline, "the published checkpoint was not taken within 30 s"
        time.sleep(0.5)
    answer = httpx.post(url + "/generate", json={"model": "my-cgan", "label": 7, "seed": 1})
    assert answer.status_code == 200 and answer.headers["x-model-version"] == version
    newer = publish("gan-mnist", extra, "my-dcgan")  # a new version of a served one
    while httpx.post(url + "/generate", json={"model": "my-dcgan"}).headers["x-model-version"] != newer:
        assert time.monotonic() < deadline + 30, "the new version was not taken within 30 s"
        time.sleep(0.5)


def check_compose(tag: str) -> None:
    step("the compose file's default service comes up healthy under podman-compose")
    compose = [str(Path(sys.executable).with_name("podman-compose")), "-f", "docker-compose.yml"]
    podman("tag", tag, "localhost/gan-studio:cpu")
    (REPO_ROOT / "extra-checkpoints").mkdir(exist_ok=True)
    subprocess.run([*compose, "up", "-d", "--no-build"], cwd=REPO_ROOT, check=True, capture_output=True, text=True)
    try:
        names = podman("ps", "--filter", "label=com.docker.compose.service=gan-studio", "--format",
                       "{{.Names}}").stdout.split()
        assert len(names) == 1, names
        services = podman("ps", "--format", "{{.Labels}}").stdout
        assert "gan-studio-gpu" not in services  # the GPU service is behind its profile
        deadline = time.monotonic() + 120
        while podman("healthcheck", "run", names[0], check=False).returncode != 0:
            assert time.monotonic() < deadline, podman("logs", names[0], check=False).stdout[-2000:]
            time.sleep(2)
        assert MODELS <= set(httpx.get("http://127.0.0.1:8000/readyz").json()["models"])
    finally:
        subprocess.run([*compose, "down", "-t", "2"], cwd=REPO_ROOT, capture_output=True, text=True)


def main() -> None:
    url, name, tag = f"http://127.0.0.1:{os.environ['PORT']}", os.environ["NAME"], os.environ["TAG"]
    check_models_and_digits(url)
    check_same_bytes_as_outside(url)
    check_browser_runtime(url)
    check_user_and_read_only_code(name)
    check_extra_checkpoint(tag)
    check_compose(tag)
    step("all passed")


if __name__ == "__main__":
    main()
