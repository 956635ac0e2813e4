"""Micro-batching: concurrent requests for one model share a forward pass.

A request's rows never mix with another's inside the network in a way that changes them: every
layer acts per row in eval mode, so an image depends only on its own latent (up to floating-point
summation order, which can differ with the batch size).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models import Latents


class QueueFull(RuntimeError):
    """More requests wait for this model than the queue holds."""


class QueueTimeout(RuntimeError):
    """A request waited in the queue past its deadline (it leaves the queue, never to be run)."""


Finish = Callable[[np.ndarray], Any]


@dataclass(frozen=True)
class ToDraw:
    """``rows`` latents not drawn yet: ``draw()`` makes them (the model's one recipe from seeds and conditioning,
    ``Generator.latents_for_seeds``) where the batch runs, on the executor right before its forward pass, so that
    drawing a request's latents (5-15 us an image, several ms for hundreds) costs the event loop nothing."""

    rows: int
    draw: Callable[[], Latents]

    def __len__(self) -> int:
        return self.rows


def drawn(latents: Latents | ToDraw) -> Latents:
    return latents.draw() if isinstance(latents, ToDraw) else latents


@dataclass
class Job:
    latents: Latents | ToDraw
    finish: Finish | None = None  # the job's rows -> its answer, on the executor after the forward pass
    future: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    started: bool = False  # taken into a batch: its rows are being computed


@dataclass
class Failed:
    """A job's ``finish`` raised: that job fails, the others of its batch do not."""

    error: Exception


class MicroBatcher:
    """Collects jobs for up to ``max_wait_s`` (or until ``max_batch`` rows), runs them as one batch.

    ``forward`` maps stacked latents to uint8 images (N, H, W, C); it runs on ``executor``, never
    on the event loop. A job's latents may come still to be drawn (``ToDraw``): they are drawn on ``executor`` with
    the batch (a job whose drawing raises fails alone). With ``enabled=False`` every job runs alone (the baseline
    the benchmark uses).
    A job whose caller has gone (its awaiting task cancelled) or that is still queued after
    ``queue_timeout_s`` leaves the queue without being computed.

    A job may bring ``finish``: it runs where the job's forward pass ran (on ``executor`` in a batch, right after the
    forward pass; on the loop's thread for an inline job), on the job's own rows, and what it returns is the job's
    answer (the answer's encoding, done where the pixels are made).

    A job of at most ``inline_rows`` rows that finds the batcher idle (nothing queued, no batch being computed)
    while ``alone()`` says no other request is being handled runs at once on the event loop's own thread: with
    nothing to batch it with, the hand-offs to the batcher's task and to the executor's thread are all that
    waiting would buy. Under load ``alone()`` is false and every job goes through the batcher (run inline there,
    jobs blocked the loop that parses the next requests: c=16 throughput fell by a third).
    """

    def __init__(self, forward: Callable[[Latents], np.ndarray], executor: Executor, max_batch: int,
                 max_wait_s: float, queue_size: int, enabled: bool = True,
                 on_batch: Callable[[int], None] | None = None, queue_timeout_s: float = 10.0,
                 inline_rows: int = 0, alone: Callable[[], bool] = lambda: True) -> None:
        self.forward, self.executor, self.inline_rows, self.alone = forward, executor, inline_rows, alone
        self.max_batch = max_batch if enabled else 1
        self.max_wait_s, self.on_batch, self.queue_timeout_s = max_wait_s, on_batch, queue_timeout_s
        self.queue: asyncio.Queue[Job] = asyncio.Queue(queue_size)
        self.held: Job | None = None  # a job that did not fit the last batch
        self.task: asyncio.Task[None] | None = None
        self.busy = False  # a batch is being computed
        self.deciding = 0  # jobs looking whether they may run inline
        self.submitting = 0  # submit() calls not yet answered
        self.stopped = False  # closed: a late job (its request held this batcher before it closed) runs alone

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        self.stopped = True
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def close(self, poll_s: float = 0.01) -> None:
        """Stops once every job submitted so far has its answer (a model version being replaced: the requests it
        accepted finish on it)."""
        while self.submitting or self.busy or self.held is not None or not self.queue.empty():
            await asyncio.sleep(poll_s)
        await self.stop()

    async def submit(self, latents: Latents | ToDraw, finish: Finish | None = None) -> Any:
        """The images of ``latents`` (N, H, W, C) uint8, or what ``finish`` makes of them."""
        self.submitting += 1
        try:
            return await self.submit_job(latents, finish)
        finally:
            self.submitting -= 1

    async def submit_job(self, latents: Latents | ToDraw, finish: Finish | None) -> Any:
        if self.stopped:  # a version replaced while its request was on the way here: it still answers, alone
            loop = asyncio.get_running_loop()
            images = await loop.run_in_executor(self.executor, lambda: self.forward(drawn(latents)))
            if self.on_batch:
                self.on_batch(len(images))
            if finish is None:
                return images
            return await asyncio.get_running_loop().run_in_executor(self.executor, finish, images)
        if len(latents) <= self.inline_rows and self.idle():
            # Requests whose bytes have arrived get two turns of the loop to show up before this one decides;
            # of jobs deciding at the same time, none runs inline.
            self.deciding += 1
            try:
                await asyncio.sleep(0)
                await asyncio.sleep(0)
            finally:
                self.deciding -= 1
            if self.idle() and not self.deciding:
                images = self.run_inline(latents)
                return images if finish is None else finish(images)
        job = Job(latents, finish)
        try:
            self.queue.put_nowait(job)
        except asyncio.QueueFull:
            raise QueueFull(f"{self.queue.maxsize} requests already waiting") from None
        expiry = asyncio.get_running_loop().call_later(self.queue_timeout_s, self.expire, job)
        try:
            return await job.future
        except asyncio.CancelledError:
            job.future.cancel()  # the caller has gone: the batcher skips the job
            raise
        finally:
            expiry.cancel()

    def idle(self) -> bool:
        return not self.busy and self.held is None and self.queue.empty() and self.alone()

    def run_inline(self, latents: Latents | ToDraw) -> np.ndarray:
        self.busy = True
        try:
            images = self.forward(drawn(latents))
        finally:
            self.busy = False
        if self.on_batch:
            self.on_batch(len(images))
        return images

    def expire(self, job: Job) -> None:
        """A job still queued at its deadline fails with QueueTimeout and is skipped; one in a batch runs on."""
        if not job.started and not job.future.done():
            job.future.set_exception(QueueTimeout(f"still queued after {self.queue_timeout_s:g} s"))

    async def next_job(self, timeout: float | None = None) -> Job | None:
        """The next job whose caller still waits, or None after ``timeout`` seconds."""
        while True:
            if timeout is None:
                job = await self.queue.get()
            elif timeout <= 0:
                try:
                    job = self.queue.get_nowait()
                except asyncio.QueueEmpty:
                    return None
            else:
                try:
                    job = await asyncio.wait_for(self.queue.get(), timeout)
                except TimeoutError:
                    return None
            if not job.future.done():
                return job

    async def next_batch(self) -> list[Job]:
        loop = asyncio.get_running_loop()
        held, self.held = self.held, None  # cleared before waiting: a held job whose caller left holds nothing up
        first = held if held is not None and not held.future.done() else await self.next_job()
        jobs, rows = [first], len(first.latents)
        deadline = loop.time() + self.max_wait_s
        while rows < self.max_batch:
            job = await self.next_job(max(0.0, deadline - loop.time()))
            if job is None:
                break
            if rows + len(job.latents) > self.max_batch:
                self.held = job
                break
            jobs.append(job)
            rows += len(job.latents)
        for job in jobs:
            job.started = True
        return jobs

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [j for j in await self.next_batch() if not j.future.done()]
            if not jobs:
                continue
            self.busy = True
            try:
                rows, answers = await loop.run_in_executor(self.executor, self.compute, jobs)
            except Exception as e:  # a failed batch fails its requests, never the batcher
                for j in jobs:
                    if not j.future.done():
                        j.future.set_exception(e)
                continue
            finally:
                self.busy = False
            if self.on_batch and rows:
                self.on_batch(rows)
            for j, result in zip(jobs, answers, strict=True):
                if j.future.done():
                    continue
                if isinstance(result, Failed):
                    j.future.set_exception(result.error)
                else:
                    j.future.set_result(result)

    def compute(self, jobs: list[Job]) -> tuple[int, list[Any]]:
        """On the executor: the jobs' latents drawn where still to be, the batch's forward pass, then each job's
        ``finish`` on its rows (skipped for a job whose caller has gone)."""
        answers: list[Any] = [None] * len(jobs)
        ready: list[tuple[int, Latents]] = []
        for k, j in enumerate(jobs):
            try:
                ready.append((k, drawn(j.latents)))
            except Exception as e:  # noqa: BLE001 - fails that job alone
                answers[k] = Failed(e)
        if not ready:
            return 0, answers
        images = self.forward(ready[0][1] if len(ready) == 1 else Latents.cat([latents for _, latents in ready]))
        start = 0
        for k, latents in ready:
            j, stop = jobs[k], start + len(latents)
            if j.finish is None or j.future.done():
                answers[k] = images[start:stop]
            else:
                try:
                    answers[k] = j.finish(images[start:stop])
                except Exception as e:  # noqa: BLE001 - fails that job alone
                    answers[k] = Failed(e)
            start = stop
        return len(images), answers
