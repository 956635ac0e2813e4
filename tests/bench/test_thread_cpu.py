"""The per-thread CPU reading of bench/thread_cpu.py: from /proc, each thread by its role."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from bench.thread_cpu import TORCH_NAME, role, thread_cpu

pytestmark = [pytest.mark.unit, pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")]


def test_a_busy_thread_shows_its_cpu_and_an_idle_one_none():
    ready, go, spun, stop = threading.Barrier(3), threading.Event(), threading.Event(), threading.Event()
    tids = {}

    def busy():
        tids["busy"] = threading.get_native_id()
        ready.wait()
        go.wait()  # spins only once the first reading is taken
        end = time.thread_time() + 0.3
        while time.thread_time() < end:
            pass
        spun.set()
        stop.wait()

    def idle():
        tids["idle"] = threading.get_native_id()
        ready.wait()
        stop.wait()

    workers = [threading.Thread(target=busy), threading.Thread(target=idle)]
    for w in workers:
        w.start()
    ready.wait()
    before = thread_cpu(os.getpid())
    go.set()
    spun.wait()  # 0.3 s of its CPU, however long that takes on a busy machine
    after = thread_cpu(os.getpid())
    stop.set()
    for w in workers:
        w.join()
    assert after[tids["busy"]][1] - before[tids["busy"]][1] >= 0.2  # clock ticks: 10 ms apart
    assert after[tids["idle"]][1] - before[tids["idle"]][1] <= 0.02


def test_threads_are_told_apart_by_role():
    assert role(100, 100, "python", 105) == "event loop"
    assert role(105, 100, TORCH_NAME, 105) == "torch thread"
    assert role(106, 100, TORCH_NAME, 105) == "OpenMP workers"
    assert role(107, 100, "notify-rs inoti", 105) == "other"
