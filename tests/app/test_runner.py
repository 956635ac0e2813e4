"""The runner's thread plan: where a model's batches start taking every CPU, measured as it loads."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from app.runner import HEAVY_FROM_ROWS, LIGHT_FROM_ROWS, Runner, TorchForward
from models.checkpoint import load_checkpoint
from tests.helpers import CHECKPOINTS, shipped_settings

pytestmark = pytest.mark.unit


@pytest.fixture
def runner():
    before = sys.getswitchinterval()
    runner = Runner(shipped_settings(device="cpu"))
    yield runner
    runner.stop()
    sys.setswitchinterval(before)


def slowed(G, seconds_a_row: float):
    forward = G.forward

    def slow(latents):  # CPU work, not a sleep: the runner times its thread's CPU
        end = time.thread_time() + seconds_a_row * len(latents)
        while time.thread_time() < end:
            pass
        return forward(latents)

    G.forward = slow
    return G


def test_a_heavy_generator_takes_every_cpu_from_16_rows_and_a_light_one_from_64(runner, caplog):
    G, _ = load_checkpoint(CHECKPOINTS / "gan-mnist.safetensors")
    light = runner.forward_fn(G)
    with caplog.at_level(logging.INFO, logger="gan_studio"):
        runner.warm_up("gan-mnist", G, light)
    assert "gan-mnist (gan):" in caplog.text  # which model: several of one family load side by side
    assert isinstance(light, TorchForward) and light.from_rows == LIGHT_FROM_ROWS  # 0.05 ms an image
    heavy = runner.forward_fn(G)
    slowed(heavy.G, 0.001)  # 1 ms an image: compute-bound
    runner.warm_up("gan-mnist", G, heavy)
    assert heavy.from_rows == HEAVY_FROM_ROWS
    assert runner.threads_for(HEAVY_FROM_ROWS - 1, heavy.from_rows) == 1
    assert runner.threads_for(HEAVY_FROM_ROWS, heavy.from_rows) == runner.cpus


def test_a_set_threads_from_rows_is_kept_and_not_measured():
    before = sys.getswitchinterval()
    runner = Runner(shipped_settings(device="cpu", threads_from_rows=32))
    try:
        G, _ = load_checkpoint(CHECKPOINTS / "gan-mnist.safetensors")
        forward = runner.forward_fn(G)
        slowed(forward.G, 0.001)
        runner.warm_up("gan-mnist", G, forward)
        assert forward.from_rows == 32
    finally:
        runner.stop()
        sys.setswitchinterval(before)


@pytest.mark.skipif(sys.platform != "linux", reason="thread names in the kernel: Linux's prctl")
def test_the_torch_thread_and_its_openmp_workers_carry_its_name_for_the_system(runner):
    def names() -> dict[int, str]:
        return {int(t.name): (t / "comm").read_text().strip() for t in Path(f"/proc/{os.getpid()}/task").iterdir()}

    tid = runner.executor.submit(threading.get_native_id).result()
    assert names()[tid] == "gan-torch"
    assert names()[threading.get_native_id()] != "gan-torch"  # this thread's name is left as it was


@pytest.mark.parametrize(("flags", "precision", "hinted"), [(["avx512_bf16"], "float32", True),
                                                           ([], "float32", False),
                                                           (["avx512_bf16"], "bfloat16", False)])
def test_a_cpu_with_native_bfloat16_serving_float32_is_told_of_bfloat16(monkeypatch, caplog, flags, precision,
                                                                         hinted):
    import app.runner

    monkeypatch.setattr(app.runner, "native_bfloat16", lambda: flags)
    before = sys.getswitchinterval()
    with caplog.at_level(logging.INFO, logger="gan_studio"):
        Runner(shipped_settings(device="cpu", precision=precision)).stop()
    sys.setswitchinterval(before)
    assert ("GAN_PRECISION=bfloat16" in caplog.text) == hinted
