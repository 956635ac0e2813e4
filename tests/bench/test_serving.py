"""The benchmark's baseline computes the same images as the service, and its load generator reads wrk right."""

from __future__ import annotations

import asyncio
import io

import httpx
import numpy as np
import pytest
from PIL import Image

from bench.load import wrk_load
from bench.peers import naive_app
from tests.app.test_precision import BOUNDS
from tests.server import running_server

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("model", ["dcgan-mnist", "cgan-mnist", "infogan-mnist"])
def test_the_naive_baseline_draws_the_services_images(model):
    async def naive_png() -> bytes:
        transport = httpx.ASGITransport(app=naive_app(model, "cpu"))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
            return (await c.post("/generate", json={"model": model, "n": 1, "seed": 77})).content

    naive = np.asarray(Image.open(io.BytesIO(asyncio.run(naive_png()))), dtype=np.int16)
    with running_server() as url:
        served = np.asarray(Image.open(io.BytesIO(httpx.post(url + "/generate", json={"model": model, "seed": 77})
                                                  .content)), dtype=np.int16)
    assert np.abs(naive - served).max() <= 1  # channels-last in the service: within one grey level


@pytest.mark.skipif(not __import__("shutil").which("wrk"), reason="wrk is not installed (apt-get install wrk)")
def test_wrk_figures_are_read_from_a_real_run():
    with running_server() as url:
        r = wrk_load(url, "/generate", {"model": "gan-mnist", "n": 1}, 2, 1)
    assert r["requests"] > 10 and r["rps"] > 10 and 0 < r["p50_ms"] <= r["p99_ms"]


def test_sides_are_measured_in_alternating_turns_and_averaged():
    from bench.serving import in_turns

    calls = []

    def side(name, rps):
        def run(seconds):
            calls.append((name, seconds))
            return {"rps": rps + len(calls), "p50_ms": 1.0, "requests": 10}
        return run

    out = in_turns({"a": side("a", 100), "b": side("b", 200)}, seconds=6)
    assert calls == [("a", 2), ("b", 2)] * 3  # turns of TURN_S seconds, one side after the other
    assert out["a"] == {"rps": 100 + (1 + 3 + 5) / 3, "p50_ms": 1.0, "requests": 30, "turns": 3}
    assert out["b"]["rps"] == 200 + (2 + 4 + 6) / 3


def test_the_in_process_reference_runs_the_services_path_and_encoding():
    from bench.serving import InProcess

    reference = InProcess("cgan-mnist", "cpu")
    try:
        for fmt in ("json", "png", "npy"):
            assert reference.run(fmt, 0.01)["rps"] > 0
        assert reference.seed >= 3 * 256  # every request its own seeds
    finally:
        reference.close()


@pytest.mark.skipif(__import__("bench.peers").peers.torchserve_ready() is not None,
                    reason="TorchServe is not installed (pip install -e '.[bench]' and a Java runtime)")
@pytest.mark.parametrize(("workers", "precision"), [(1, "float32"), (2, "float32"), (1, "bfloat16")])
def test_torchserve_serves_the_services_images_batched(workers, precision):
    """The benchmark's TorchServe side runs the same checkpoint in the same precision: the image for a seed is the
    service's (within one grey level in float32: channels-last there; in bfloat16 within the precision's bound, and
    not float32's pixels), and concurrent requests, batched by TorchServe (in one worker, or spread over two), each
    get their own seed's."""
    from concurrent.futures import ThreadPoolExecutor

    from bench.peers import torchserve_server

    model = "cgan-mnist"

    def served(env):
        with running_server(env) as url:
            return {seed: np.asarray(Image.open(io.BytesIO(httpx.post(url + "/generate", json={
                "model": model, "seed": seed}).content)), dtype=np.int16) for seed in range(8)}

    same = served({"GAN_PRECISION": precision})
    in_float32 = same if precision == "float32" else served({})
    with torchserve_server(model, workers=workers, precision=precision) as ts_url, ThreadPoolExecutor(8) as pool:
        def ask(seed):
            r = httpx.post(f"{ts_url}/predictions/{model}", json={"model": model, "n": 1, "seed": seed}, timeout=60)
            assert r.status_code == 200 and r.headers["content-type"] == "image/png"
            return np.asarray(Image.open(io.BytesIO(r.content)), dtype=np.int16)

        answers = dict(zip(range(8), pool.map(ask, range(8)), strict=True))
    bound = 1 if precision == "float32" else BOUNDS[precision][0]
    assert all(np.abs(answers[seed] - same[seed]).max() <= bound for seed in range(8))
    if precision != "float32":
        assert any(np.abs(answers[seed] - in_float32[seed]).max() > 1 for seed in range(8))
