"""The service's /generate under load: a small answer's PNGs are made with its pixels on the torch thread, and they
are the pixels the route would have encoded itself."""

from __future__ import annotations

import asyncio
import io
import threading

import numpy as np
import pytest
from PIL import Image

import app.service as service_module
from app.runner import TORCH_THREAD
from app.schemas import GenerateRequest
from app.service import GanService, pngs_in_batch
from tests.helpers import shipped_settings

pytestmark = pytest.mark.unit


def pixels(png: bytes) -> np.ndarray:
    image = np.asarray(Image.open(io.BytesIO(png)))
    return image[..., None] if image.ndim == 2 else image


def test_small_answers_get_their_pngs_on_the_torch_thread_under_load(monkeypatch):
    threads: list[str] = []
    encode = service_module.png_bytes

    def recorded(array, scale=1):
        threads.append(threading.current_thread().name)
        return encode(array, scale)

    monkeypatch.setattr(service_module, "png_bytes", recorded)

    async def main():
        service = GanService(shipped_settings(), alone=lambda: False)  # never alone: every job goes through a batch
        service.load_all()
        await service.start()
        try:
            requests = [GenerateRequest(model="cgan-mnist", n=1, seed=s, label=s % 10, scale=2) for s in range(8)]
            requests.append(GenerateRequest(model="gan-mnist", n=3, seed=5, format="json"))
            requests.append(GenerateRequest(model="gan-mnist", n=3, seed=5))  # a grid: encoded by the route
            return await asyncio.gather(*(service.generate(r) for r in requests))
        finally:
            await service.stop()

    frames = asyncio.run(main())
    assert threads and all(name.startswith(TORCH_THREAD) for name in threads)
    for f in frames[:8]:
        assert len(f.pngs) == 1
        assert np.array_equal(pixels(f.pngs[0]), f.images[0].repeat(2, axis=0).repeat(2, axis=1))
    assert [np.array_equal(pixels(p), img) for p, img in zip(frames[8].pngs, frames[8].images, strict=True)] \
        == [True] * 3
    assert frames[9].pngs is None


@pytest.mark.parametrize(("body", "expected"), [
    ({"n": 1}, True), ({"n": 1, "format": "json"}, True), ({"n": 5, "format": "json"}, True),
    ({"n": 6, "format": "json"}, False),  # 6 x 784 pixels: large enough for the torch thread's later hop
    ({"n": 2}, False),  # a grid of two: made from both images by the route
    ({"n": 1, "format": "npy"}, False), ({"n": 1, "scale": 2}, True), ({"n": 1, "scale": 3}, False),
])
def test_which_answers_get_their_pngs_in_the_batch(body, expected):
    class Model:
        class G:
            img_shape = (1, 28, 28)

    assert pngs_in_batch(GenerateRequest(model="gan-mnist", **body), Model) is expected


def test_the_runner_sets_the_switch_interval_the_torch_thread_needs():
    import sys

    from app.runner import Runner

    before = sys.getswitchinterval()
    try:
        Runner(shipped_settings(gil_switch_ms=0.5))
        assert sys.getswitchinterval() == pytest.approx(0.0005)
        Runner(shipped_settings())
        assert sys.getswitchinterval() == pytest.approx(0.005)
    finally:
        sys.setswitchinterval(before)


def test_the_answer_is_the_pngs_made_in_the_batch():
    from app.responses import encode
    from app.service import Frames

    image = np.zeros((1, 28, 28, 1), np.uint8)
    made = Frames(image, [{"seed": 1}], {"seed": 1}, None, "v1", [b"made on the torch thread"])
    assert encode(made, "png", "gan-mnist", 1, 0.0).body == b"made on the torch thread"
    body = encode(made, "json", "gan-mnist", 1, 0.0).body
    assert b'"png":"bWFkZSBvbiB0aGUgdG9yY2ggdGhyZWFk"' in body  # base64 of the same bytes
