"""Micro-batching: concurrent requests for one model share a forward pass.

A request's rows never mix with another's inside the network in a way that changes them: every
layer acts per row in eval mode, so an image depends only on its own latent (up to floating-point
summation order, which can differ with the batch size).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models import Latents


class Unavailable(RuntimeError):
    """The batcher cannot answer this request now (a 503 with Retry-After)."""


class QueueFull(Unavailable):
    """More requests wait for this model than the queue holds."""


class QueueTimeout(Unavailable):
    """A request waited in the queue past its deadline (it leaves the queue, never to be run)."""


class Stopped(Unavailable):
    """The batcher was stopped (the service shutting down) while the request still waited."""


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
    """Runs the jobs waiting for one model as batches of up to ``max_batch`` rows on ``executor``.

    The event loop appends each job to ``waiting``; the batches are formed on the executor's thread, each taking
    every job waiting when it starts: as one batch ends the next begins there, with no turn of the event loop in
    between (waiting for the loop to hand over the next batch left the torch thread idle for a third of the time
    under load, docs/benchmarks.md). A batch runs its jobs' drawing (``ToDraw``), the forward pass and each job's
    ``finish``, and hands all its answers back to the loop at once. After each batch the executor runs what else
    was queued on it (other models' batches, encodings) before this model's next. With the executor idle, a job
    waits ``max_wait_s`` for others to join it (or until ``max_batch`` rows wait). With ``enabled=False`` every job
    runs alone (the baseline the benchmark uses).

    ``forward`` maps stacked latents to uint8 images (N, H, W, C); it runs on ``executor``, never on the event loop.
    A job whose caller has gone (its awaiting task cancelled) or that is still waiting after ``queue_timeout_s``
    leaves without being computed.

    A job may bring ``finish``: it runs where the job's forward pass ran (on ``executor`` in a batch, right after the
    forward pass; on the loop's thread for an inline job), on the job's own rows, and what it returns is the job's
    answer (the answer's encoding, done where the pixels are made).

    A job of at most ``inline_rows`` rows that finds the batcher idle (nothing waiting, no batch being computed)
    while ``alone()`` says no other request is being handled runs at once on the event loop's own thread: with
    nothing to batch it with, the hand-offs to the executor's thread are all that waiting would buy. Under load
    ``alone()`` is false and every job goes through the executor (run inline there, jobs blocked the loop that parses
    the next requests: c=16 throughput fell by a third).
    """

    def __init__(self, forward: Callable[[Latents], np.ndarray], executor: Executor, max_batch: int,
                 max_wait_s: float, queue_size: int, enabled: bool = True,
                 on_batch: Callable[[int], None] | None = None, queue_timeout_s: float = 10.0,
                 inline_rows: int = 0, alone: Callable[[], bool] = lambda: True) -> None:
        self.forward, self.executor, self.inline_rows, self.alone = forward, executor, inline_rows, alone
        self.max_batch = max_batch if enabled else 1
        self.max_wait_s, self.on_batch, self.queue_timeout_s = max_wait_s, on_batch, queue_timeout_s
        self.queue_size = queue_size
        self.lock = threading.Lock()  # guards waiting, waiting_rows and scheduled, shared with the executor's thread
        self.waiting: deque[Job] = deque()
        self.waiting_rows = 0
        self.scheduled = False  # batches are running, or about to, on the executor: it takes what waits
        self.timer: asyncio.TimerHandle | None = None  # the extra wait (max_wait_s) before an idle executor starts
        self.loop: asyncio.AbstractEventLoop | None = None
        self.deciding = 0  # jobs looking whether they may run inline
        self.submitting = 0  # submit() calls not yet answered
        self.stopped = False  # stopped or closed: a late job (its request held this batcher before) runs alone

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        """Stops taking jobs; those still waiting fail with Stopped (a batch already running ends as it would)."""
        self.stopped = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        with self.lock:
            left, self.waiting, self.waiting_rows = list(self.waiting), deque(), 0
        for job in left:
            if not job.future.done():
                job.future.set_exception(Stopped("the service stopped before this request ran"))

    async def close(self, poll_s: float = 0.01) -> None:
        """Stops once every job submitted so far has its answer (a model version being replaced: the requests it
        accepted finish on it)."""
        while self.submitting or self.scheduled or self.waiting:
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
            if self.stopped:  # stopped meanwhile: this request answers alone
                return await self.submit_job(latents, finish)
            if self.idle() and not self.deciding:
                images = self.run_inline(latents)
                return images if finish is None else finish(images)
        job = Job(latents, finish)
        self.enqueue(job)
        expiry = asyncio.get_running_loop().call_later(self.queue_timeout_s, self.expire, job)
        try:
            return await job.future
        except asyncio.CancelledError:
            job.future.cancel()  # the caller has gone: the batch skips the job
            raise
        finally:
            expiry.cancel()

    def enqueue(self, job: Job) -> None:
        """On the loop: ``job`` waits; an idle executor is given this model's batches (now, or after the extra wait)."""
        if self.loop is None:  # a batcher used before start()
            self.loop = asyncio.get_running_loop()
        with self.lock:
            if len(self.waiting) >= self.queue_size:
                raise QueueFull(f"{self.queue_size} requests already waiting")
            self.waiting.append(job)
            self.waiting_rows += len(job.latents)
            if self.scheduled:
                return
            if self.max_wait_s > 0 and self.waiting_rows < self.max_batch:  # the extra wait, begun by the first job
                if self.timer is None:
                    self.timer = self.loop.call_later(self.max_wait_s, self.wait_over)
                return
            self.scheduled = True
        try:
            self.begin()
        except RuntimeError:  # the executor has shut down (the service stopping)
            with self.lock:
                self.scheduled = False
                self.waiting.remove(job)
                self.waiting_rows -= len(job.latents)
            raise Stopped("the service is stopping") from None

    def wait_over(self) -> None:
        self.timer = None
        with self.lock:
            if self.scheduled or not self.waiting:
                return
            self.scheduled = True
        self.begin()

    def begin(self) -> None:
        """On the loop, with ``scheduled`` just set: the executor runs this model's batches."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.executor.submit(self.run_batch)

    def take(self) -> list[Job]:
        """Under the lock: the jobs of the next batch, oldest first (the first whatever its size, then as many as fit);
        jobs whose callers have gone are dropped."""
        jobs: list[Job] = []
        rows = 0
        while self.waiting:
            job = self.waiting[0]
            gone = job.started or job.future.done()  # expired, or cancelled (read across threads: computed for nothing)
            if not gone and jobs and rows + len(job.latents) > self.max_batch:
                break
            self.waiting.popleft()
            self.waiting_rows -= len(job.latents)
            if gone:
                continue
            job.started = True
            jobs.append(job)
            rows += len(job.latents)
            if rows >= self.max_batch:
                break
        return jobs

    def run_batch(self) -> None:
        """On the executor: one batch of what waits, its answers handed to the loop; then this model's next batch goes
        behind what else the executor has queued, or, with nothing waiting, the batcher is idle."""
        with self.lock:
            jobs = self.take()
            if not jobs:
                self.scheduled = False
                return
        try:
            rows, answers = self.compute(jobs)
            outcome: tuple[int, list[Any]] | Exception = (rows, answers)
        except Exception as e:  # noqa: BLE001 - a failed batch fails its requests, never the batcher
            outcome = e
        try:
            self.loop.call_soon_threadsafe(self.answer, jobs, outcome)
        except RuntimeError:  # the loop has closed (the service is gone): nobody waits for these answers
            pass
        with self.lock:
            if not self.waiting:  # stop() empties it too
                self.scheduled = False
                return
        try:
            self.executor.submit(self.run_batch)
        except RuntimeError:  # the executor has shut down
            with self.lock:
                self.scheduled = False

    def answer(self, jobs: list[Job], outcome: tuple[int, list[Any]] | Exception) -> None:
        """On the loop: a batch's answers reach their requests."""
        if isinstance(outcome, Exception):
            for j in jobs:
                if not j.future.done():
                    j.future.set_exception(outcome)
            return
        rows, answers = outcome
        for j, result in zip(jobs, answers, strict=True):
            if j.future.done():
                continue
            if isinstance(result, Failed):
                j.future.set_exception(result.error)
            else:
                j.future.set_result(result)
        if self.on_batch and rows:  # after the answers: a failing callback leaves no request waiting
            self.on_batch(rows)

    def idle(self) -> bool:
        return not self.scheduled and not self.waiting and self.alone()

    def run_inline(self, latents: Latents | ToDraw) -> np.ndarray:
        images = self.forward(drawn(latents))
        if self.on_batch:
            self.on_batch(len(images))
        return images

    def expire(self, job: Job) -> None:
        """A job still waiting at its deadline fails with QueueTimeout and is skipped; one in a batch runs on."""
        with self.lock:  # not while the torch thread takes it into a batch
            if job.started or job.future.done():
                return
            job.started = True  # so that no batch takes it now
        job.future.set_exception(QueueTimeout(f"still queued after {self.queue_timeout_s:g} s"))

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
