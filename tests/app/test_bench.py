"""The benchmark's baseline computes the same images as the service, and its load generator reads wrk right."""

from __future__ import annotations

import asyncio
import io

import httpx
import numpy as np
import pytest
from PIL import Image

from app.bench import naive_app, wrk_load
from app.local_server import running_server


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
