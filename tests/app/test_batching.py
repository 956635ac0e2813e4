"""The micro-batcher on its own: batches form, failures reach their requests, the queue is bounded."""

from __future__ import annotations

import asyncio
import base64
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from PIL import Image

from app.batching import MicroBatcher, QueueFull, Stopped, ToDraw, Unavailable
from models import Latents

pytestmark = pytest.mark.unit


def latents(rows: int, value: float) -> Latents:
    return Latents(torch.full((rows, 3), value))


def run(coro):
    return asyncio.run(coro)


def test_concurrent_jobs_share_a_forward_pass_and_get_their_own_rows():
    sizes: list[int] = []

    async def main():
        batcher = MicroBatcher(lambda lat: lat.z.numpy().copy(), ThreadPoolExecutor(1), max_batch=64,
                               max_wait_s=0.05, queue_size=100, on_batch=sizes.append)
        batcher.start()
        results = await asyncio.gather(*(batcher.submit(latents(2, float(i))) for i in range(10)))
        await batcher.stop()
        return results

    results = run(main())
    for i, rows in enumerate(results):
        assert rows.shape == (2, 3) and np.all(rows == i)
    assert sum(sizes) == 20 and len(sizes) < 10


def test_disabled_batching_runs_each_job_alone():
    sizes: list[int] = []

    async def main():
        batcher = MicroBatcher(lambda lat: lat.z.numpy(), ThreadPoolExecutor(1), max_batch=64, max_wait_s=0.05,
                               queue_size=100, enabled=False, on_batch=sizes.append)
        batcher.start()
        await asyncio.gather(*(batcher.submit(latents(1, 0.0)) for _ in range(5)))
        await batcher.stop()

    run(main())
    assert sizes == [1] * 5


def test_a_failed_forward_fails_its_requests_and_the_batcher_goes_on():
    calls = {"n": 0}

    def forward(lat: Latents) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return lat.z.numpy()

    async def main():
        batcher = MicroBatcher(forward, ThreadPoolExecutor(1), max_batch=8, max_wait_s=0, queue_size=10)
        batcher.start()
        with pytest.raises(RuntimeError, match="boom"):
            await batcher.submit(latents(1, 1.0))
        after = await batcher.submit(latents(1, 2.0))
        await batcher.stop()
        return after

    assert run(main())[0, 0] == 2.0


@dataclass
class Running:
    """A batcher whose first batch (one job) is in its forward pass, held there until ``gate`` is set; ``calls`` has
    each batch's first value as its forward pass starts."""

    batcher: MicroBatcher
    first: asyncio.Future
    gate: threading.Event
    calls: list[float]


async def a_running_batch(first: float, max_batch: int, queue_size: int) -> Running:
    gate, calls = threading.Event(), []

    def forward(lat: Latents) -> np.ndarray:
        calls.append(float(lat.z[0, 0]))
        gate.wait(5)
        return lat.z.numpy().copy()

    batcher = MicroBatcher(forward, ThreadPoolExecutor(1), max_batch=max_batch, max_wait_s=0, queue_size=queue_size)
    batcher.start()
    job = asyncio.ensure_future(batcher.submit(latents(1, first)))
    while not calls:  # the first job's batch is in its forward pass: the next ones wait
        await asyncio.sleep(0.01)
    return Running(batcher, job, gate, calls)


def test_a_full_queue_refuses_at_once():
    async def main():
        running = await a_running_batch(0.0, max_batch=1, queue_size=2)
        waiting = [asyncio.ensure_future(running.batcher.submit(latents(1, float(i)))) for i in (1, 2)]
        await asyncio.sleep(0)
        with pytest.raises(QueueFull, match="2 requests already waiting"):
            await running.batcher.submit(latents(1, 3.0))
        running.gate.set()
        return [float(r[0, 0]) for r in await asyncio.gather(running.first, *waiting)]

    assert run(main()) == [0.0, 1.0, 2.0]


def test_the_next_batch_starts_on_the_executor_while_the_event_loop_is_busy():
    """A batch's end starts the next one on the executor's thread, with what waits: no turn of the event loop in
    between (the torch thread sat idle a third of the time waiting for the loop to hand it the next batch)."""
    async def main():
        running = await a_running_batch(1.0, max_batch=64, queue_size=10)
        rest = [asyncio.ensure_future(running.batcher.submit(latents(1, float(i)))) for i in (2, 3)]
        await asyncio.sleep(0)  # both wait now
        running.gate.set()
        deadline = time.monotonic() + 5
        while len(running.calls) < 2 and time.monotonic() < deadline:  # the loop's thread busy: no await in here
            time.sleep(0.001)
        started_while_busy = list(running.calls)
        answers = await asyncio.gather(running.first, *rest)
        return started_while_busy, [float(a[0, 0]) for a in answers]

    started, answers = run(main())
    assert started == [1.0, 2.0]  # the second batch (jobs 2 and 3 together) began while the loop was held
    assert answers == [1.0, 2.0, 3.0]


def test_a_batch_goes_behind_other_work_queued_on_the_executor():
    """Two models share the torch thread: after each batch, what else was queued there runs before the next one."""
    async def main():
        order: list[str] = []
        gate = threading.Event()

        def forward(name):
            def run_forward(lat: Latents) -> np.ndarray:
                order.append(f"{name}{int(lat.z[0, 0])}")
                gate.wait(5)
                return lat.z.numpy().copy()
            return run_forward

        executor = ThreadPoolExecutor(1)
        a = MicroBatcher(forward("a"), executor, max_batch=1, max_wait_s=0, queue_size=10)
        b = MicroBatcher(forward("b"), executor, max_batch=1, max_wait_s=0, queue_size=10)
        a.start(), b.start()
        jobs = [asyncio.ensure_future(a.submit(latents(1, 0.0)))]
        while not order:
            await asyncio.sleep(0.01)
        jobs += [asyncio.ensure_future(a.submit(latents(1, float(i)))) for i in (1, 2)]
        jobs.append(asyncio.ensure_future(b.submit(latents(1, 0.0))))
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(*jobs)
        return order

    assert run(main()) == ["a0", "b0", "a1", "a2"]


def test_with_the_executor_idle_a_job_waits_max_wait_for_others_to_join_it():
    sizes: list[int] = []

    async def main():
        batcher = MicroBatcher(lambda lat: lat.z.numpy().copy(), ThreadPoolExecutor(1), max_batch=64,
                               max_wait_s=0.2, queue_size=10, on_batch=sizes.append)
        batcher.start()
        first = asyncio.ensure_future(batcher.submit(latents(2, 1.0)))
        await asyncio.sleep(0.02)
        second = await batcher.submit(latents(3, 2.0))
        return await first, second

    first, second = run(main())
    assert sizes == [5] and np.all(first == 1.0) and np.all(second == 2.0)


def test_max_batch_rows_waiting_start_a_batch_without_the_extra_wait():
    async def main():
        batcher = MicroBatcher(lambda lat: lat.z.numpy().copy(), ThreadPoolExecutor(1), max_batch=4,
                               max_wait_s=30, queue_size=10)
        batcher.start()
        return await asyncio.wait_for(asyncio.gather(*(batcher.submit(latents(2, 0.0)) for _ in range(2))), 5)

    assert [r.shape for r in run(main())] == [(2, 3), (2, 3)]


def test_stopping_fails_the_jobs_still_waiting_and_lets_the_running_batch_answer():
    async def main():
        running = await a_running_batch(1.0, max_batch=1, queue_size=10)
        waiting = asyncio.ensure_future(running.batcher.submit(latents(1, 2.0)))
        await asyncio.sleep(0)
        await running.batcher.stop()
        running.gate.set()
        return await asyncio.gather(running.first, waiting, return_exceptions=True), running.calls

    (ran, stopped), calls = run(main())
    assert np.all(ran == 1.0) and calls == [1.0]
    assert isinstance(stopped, Stopped) and isinstance(stopped, Unavailable)


def test_a_small_job_alone_runs_inline_and_a_crowd_is_batched():
    """With nothing else to batch with, a small job runs on the event loop's thread (no hand-off); a large
    one, a job while alone() is false, and jobs arriving together go through the batcher and its executor."""
    threads: list[str] = []
    sizes: list[int] = []
    alone = {"value": True}

    def forward(lat: Latents) -> np.ndarray:
        threads.append(threading.current_thread().name)
        return lat.z.numpy().copy()

    async def main():
        batcher = MicroBatcher(forward, ThreadPoolExecutor(1, thread_name_prefix="exec"), max_batch=64,
                               max_wait_s=0, queue_size=100, on_batch=sizes.append, inline_rows=8,
                               alone=lambda: alone["value"])
        batcher.start()
        loop_thread = threading.current_thread().name
        assert np.all(await batcher.submit(latents(8, 1.0)) == 1.0)
        assert threads == [loop_thread]
        await batcher.submit(latents(9, 2.0))  # over inline_rows
        alone["value"] = False
        await batcher.submit(latents(1, 3.0))  # other requests in flight
        assert threads[1:] == ["exec_0", "exec_0"]
        alone["value"] = True
        threads.clear(), sizes.clear()
        results = await asyncio.gather(*(batcher.submit(latents(1, float(i))) for i in range(10)))
        assert all(np.all(r == i) for i, r in enumerate(results))
        assert loop_thread not in threads and len(sizes) < 10  # batched, in the executor
        await batcher.stop()

    run(main())


def test_a_closed_batcher_still_answers_a_job_that_arrives_late():
    """Found in review: a request holding a replaced model version submitted after its batcher closed, and waited
    for a queue nobody read."""

    async def main():
        batcher = MicroBatcher(lambda lat: lat.z.numpy().copy(), ThreadPoolExecutor(1), max_batch=64,
                               max_wait_s=0, queue_size=10, queue_timeout_s=1.0)
        batcher.start()
        await batcher.close()
        return await asyncio.wait_for(batcher.submit(latents(2, 5.0)), 5)

    assert np.all(run(main()) == 5.0)


def test_a_waiting_job_whose_caller_left_does_not_keep_the_batcher_from_closing():
    """Found in review: a job held back from a full batch, its caller gone, kept the batcher from closing."""

    async def main():
        permits = threading.Semaphore(0)

        def forward(lat):
            permits.acquire(timeout=5)
            return lat.z.numpy().copy()

        batcher = MicroBatcher(forward, ThreadPoolExecutor(1), max_batch=4, max_wait_s=0, queue_size=10)
        batcher.start()
        first = asyncio.ensure_future(batcher.submit(latents(4, 1.0)))  # a full batch, blocked in forward
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(batcher.submit(latents(3, 2.0)))
        third = asyncio.ensure_future(batcher.submit(latents(3, 3.0)))
        await asyncio.sleep(0.05)
        permits.release()  # the first batch ends; the next takes the second job and leaves the third (3 + 3 > 4)
        await first
        await asyncio.sleep(0.05)
        assert [len(j.latents) for j in batcher.waiting] == [3] and not batcher.waiting[0].started
        third.cancel()  # its caller leaves while it waits
        permits.release()
        await second
        await asyncio.wait_for(batcher.close(), 5)
        return len(batcher.waiting), batcher.scheduled

    assert run(main()) == (0, False)


def test_each_jobs_finish_runs_on_the_executor_on_its_own_rows_and_a_failing_one_fails_alone():
    executor = ThreadPoolExecutor(1, thread_name_prefix="forward")
    where: list[str] = []

    def finish(rows: np.ndarray) -> tuple[str, float]:
        where.append(threading.current_thread().name)
        if rows[0, 0] == 3:
            raise ValueError("cannot encode row 3")
        return "encoded", float(rows.sum())

    async def main():
        batcher = MicroBatcher(lambda lat: lat.z.numpy().copy(), executor, max_batch=64, max_wait_s=0.05,
                               queue_size=100)
        batcher.start()
        results = await asyncio.gather(*(batcher.submit(latents(2, float(i)), finish) for i in range(6)),
                                       batcher.submit(latents(1, 9.0)), return_exceptions=True)
        await batcher.stop()
        return results

    results = run(main())
    for i in (0, 1, 2, 4, 5):
        assert results[i] == ("encoded", 6.0 * i)
    assert isinstance(results[3], ValueError) and "row 3" in str(results[3])
    assert isinstance(results[6], np.ndarray) and np.all(results[6] == 9)  # no finish: the rows themselves
    assert where and all(name.startswith("forward") for name in where)


def test_latents_to_draw_are_drawn_on_the_executor_with_the_batch_and_a_failing_draw_fails_alone():
    drawn_on: list[str] = []
    sizes: list[int] = []

    def to_draw(rows: int, value: float) -> ToDraw:
        def draw() -> Latents:
            drawn_on.append(threading.current_thread().name)
            if value < 0:
                raise ValueError("no such seed")
            return latents(rows, value)
        return ToDraw(rows, draw)

    async def main():
        batcher = MicroBatcher(lambda lat: lat.z.numpy().copy(), ThreadPoolExecutor(1, thread_name_prefix="torch"),
                               max_batch=64, max_wait_s=0.05, queue_size=100, on_batch=sizes.append)
        batcher.start()
        jobs = [batcher.submit(to_draw(2, float(i))) for i in range(4)] + [batcher.submit(to_draw(3, -1.0)),
                                                                        batcher.submit(latents(1, 9.0))]
        results = await asyncio.gather(*jobs, return_exceptions=True)
        await batcher.stop()
        return results

    results = run(main())
    for i, rows in enumerate(results[:4]):
        assert rows.shape == (2, 3) and np.all(rows == i)
    assert isinstance(results[4], ValueError) and "no such seed" in str(results[4])
    assert results[5].shape == (1, 3) and np.all(results[5] == 9)
    assert len(drawn_on) == 5 and all(name.startswith("torch") for name in drawn_on)
    assert sum(sizes) == 9  # the failed job's rows were never computed


def test_a_generate_answer_is_the_same_whether_its_latents_are_drawn_before_or_with_the_batch(shipped_client):
    """PNG and npy answers draw on the torch thread with the batch, JSON before it: the same pixels for one seed."""
    body = {"model": "cgan-mnist", "n": 3, "seed": 41, "label": 5}
    as_json = shipped_client.post("/generate", json=body | {"format": "json"}).json()["images"]
    as_npy = np.load(io.BytesIO(shipped_client.post("/generate", json=body | {"format": "npy"}).content))
    for image, pixels in zip(as_json, as_npy, strict=True):
        decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(image["png"]))))
        assert np.array_equal(decoded, pixels[:, :, 0])


def test_a_request_deciding_whether_to_run_inline_when_the_batcher_stops_is_answered_alone():
    """Found in review: stopping left a cancelled extra-wait timer recorded, and a request that had been deciding
    whether to run inline then queued behind that timer, which never fired, until its queue timeout."""
    alone = {"value": True}

    async def main():
        batcher = MicroBatcher(lambda lat: lat.z.numpy().copy(), ThreadPoolExecutor(1), max_batch=64, max_wait_s=30,
                               queue_size=10, queue_timeout_s=10, inline_rows=8, alone=lambda: alone["value"])
        batcher.start()
        deciding = asyncio.ensure_future(batcher.submit(latents(1, 1.0)))
        await asyncio.sleep(0)  # it looks whether it may run inline
        large = asyncio.ensure_future(batcher.submit(latents(9, 2.0)))  # waits for the extra wait's timer
        await asyncio.sleep(0)
        await batcher.stop()
        alone["value"] = False
        answer = await asyncio.wait_for(deciding, 5)
        return answer, await asyncio.gather(large, return_exceptions=True)

    answer, (large,) = run(main())
    assert np.all(answer == 1.0) and isinstance(large, Stopped)


def test_a_failing_batch_callback_still_lets_every_request_have_its_answer():
    def on_batch(rows: int) -> None:
        raise RuntimeError("metrics broke")

    async def main():
        batcher = MicroBatcher(lambda lat: lat.z.numpy().copy(), ThreadPoolExecutor(1), max_batch=64, max_wait_s=0,
                               queue_size=10, on_batch=on_batch)
        batcher.start()
        return await asyncio.wait_for(asyncio.gather(*(batcher.submit(latents(1, float(i))) for i in range(3))), 5)

    assert [float(r[0, 0]) for r in run(main())] == [0.0, 1.0, 2.0]
