"""The runner: where the generators' torch work happens. One executor thread (the torch thread) runs every
multi-threaded forward pass through each model's micro-batcher; the running copy of each generator (batch norms
folded, channels-last, the precision, CUDA graphs; or with GAN_BACKEND=onnxruntime its ONNX graph in an ONNX Runtime
session) is made here, warmed up here, and nowhere else.

    runner = Runner(settings)
    batcher = runner.prepare("dcgan-mnist", G)          # the running copy, warmed up, behind its batcher
    images = await runner.run("dcgan-mnist", batcher, G.latents_for_seeds([1, 2]))   # (2, 28, 28, 1) uint8
"""

from __future__ import annotations

import asyncio
import copy
import ctypes
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import torch

from app.batching import Finish, MicroBatcher, ToDraw, Unavailable
from app.config import Settings, backend_unavailable
from app.errors import ApiError
from models import Generator, Latents
from models.graphs import GraphedForward, bucket_sizes
from models.images import to_uint8
from models.runtime import PRECISIONS, available_cpus, fold_batch_norm, keep_freed_memory, native_bfloat16, pick_device

log = logging.getLogger("gan_studio")
TORCH_THREAD = "torch"  # the executor thread's name prefix: the one thread that runs torch with several threads
TORCH_OS_NAME = f"gan-{TORCH_THREAD}"  # its name for the system (top -H), which OpenMP's workers inherit
INLINE_SEEDS = 8  # drawing this few seeds' latents takes microseconds: on the event loop, no hop
T = TypeVar("T")
# Where a batch starts taking every CPU (GAN_THREADS_FROM_ROWS=0): measured for each model at its warm-up (logged at
# load). Served at c=64 on 2 cores (python -m bench.settings_ab, docs/benchmarks.md), DCGAN and CGAN (above HEAVY_US
# an image on one thread) were faster from 16 rows, InfoGAN and the MLP GAN (below it) from 64.
HEAVY_US, HEAVY_FROM_ROWS, LIGHT_FROM_ROWS = 300.0, 16, 64
PR_SET_NAME = 15  # prctl(2)


class Runner:
    def __init__(self, settings: Settings, on_batch: Callable[[str, int], None] | None = None,
                 alone: Callable[[], bool] = lambda: False) -> None:
        """``alone`` says whether the request at hand is the only one the server is handling (then a small one
        may run inline, see MicroBatcher); ``on_batch(model, rows)`` is told of every forward pass."""
        self.settings, self.on_batch, self.alone = settings, on_batch, alone
        if why := backend_unavailable(settings.backend):
            raise RuntimeError(why)
        self.cpus = available_cpus()
        # Every multi-threaded torch call runs on the one torch thread (the executor's). OpenMP gives each thread
        # that runs a parallel region a team of its own; with two teams on these cores libgomp stops spinning
        # between regions and each region pays for waking its workers (a 256-image MLP forward: 3.1 -> 4.0 ms).
        # So this thread, the event loop's, keeps one thread: loading, and the small inline batches.
        torch.set_num_threads(1)
        # The torch thread needs the interpreter back after each operation of a forward pass (eager torch releases it
        # around each kernel); while the event loop is busy it gets it at the switch interval (GAN_GIL_SWITCH_MS).
        sys.setswitchinterval(settings.gil_switch_ms / 1000)
        if settings.keep_freed_memory:
            keep_freed_memory()  # process-wide; the in-process benchmark gets it too, as it makes a Runner
        self.device = pick_device(settings.device)
        if self.device.type == "cpu" and settings.precision == "float32" and settings.backend == "torch" \
                and (flags := native_bfloat16()):
            log.info("this CPU does bfloat16 natively (%s): GAN_PRECISION=bfloat16 makes a batched image 1.5-3x "
                     "cheaper, for pixels that move by up to 13 grey levels (docs/scaling.md)", ", ".join(flags))
        self.onnxruntime = settings.backend == "onnxruntime"
        self.cuda_graphs = settings.cuda_graphs and self.device.type == "cuda" and not self.onnxruntime
        self.providers: list[str] = []  # ONNX Runtime's execution providers, with GAN_BACKEND=onnxruntime
        if self.onnxruntime:
            ignored = []
            if settings.precision != "float32":
                ignored.append(f"GAN_PRECISION={settings.precision}")
            if settings.cuda_graphs:
                ignored.append("GAN_CUDA_GRAPHS")
            if ignored:
                log.warning("GAN_BACKEND=onnxruntime runs the exported graphs in float32, without CUDA graphs: %s "
                            "ignored (they are torch's)", " and ".join(ignored))
            self.providers = self.onnxruntime_providers()
        elif settings.cuda_graphs and not self.cuda_graphs:
            log.warning("GAN_CUDA_GRAPHS is for CUDA devices; the generators run as they are on %s", self.device)
        # Named for the system too (top -H, /proc/<pid>/task): OpenMP's workers, started from it, inherit the name.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=TORCH_THREAD,
                                           initializer=name_os_thread, initargs=(TORCH_OS_NAME,))

    def threads_for(self, rows: int, from_rows: int) -> int:
        """Torch threads for a batch: one for small batches (a second thread saves less than it costs the
        event loop it competes with for the cores), every CPU from ``from_rows``; GAN_THREADS fixes it."""
        if self.settings.threads:
            return self.settings.threads
        return 1 if rows < from_rows else self.cpus

    def forward_fn(self, G: Generator) -> Callable[[Latents], np.ndarray]:
        """The running copy of ``G`` (the loaded model itself is left as it is), as latents -> uint8 pixels."""
        if self.onnxruntime:
            return self.onnxruntime_fn(G)
        G = fold_batch_norm(G) if self.settings.fold_batch_norm else copy.deepcopy(G)  # within 1 grey level
        if self.settings.channels_last and any(p.dim() == 4 for p in G.parameters()):
            G = G.to(memory_format=torch.channels_last)  # the convolutions' faster layout on CPU (same pixels)
        dtype = PRECISIONS[self.settings.precision]
        G = G.to(dtype)
        if self.cuda_graphs:  # captured here, at load time: one graph per batch-size bucket
            return GraphedForward(G, bucket_sizes(self.settings.max_batch), self.device, dtype)
        return TorchForward(self, G, dtype)

    def onnxruntime_fn(self, G: Generator) -> Callable[[Latents], np.ndarray]:
        """``G`` exported to ONNX (batch norms folded, the pixels made in the graph) in an ONNX Runtime session:
        latents -> the same uint8 pixels as the torch path, within a grey level (tests/app/test_onnx_backend.py)."""
        import onnxruntime

        from models.onnx import export_onnx, onnx_inputs

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.settings.threads or self.cpus  # ONNX Runtime's own pool, not OpenMP's
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(export_onnx(G, pixels="uint8"), options, providers=self.providers)

        def forward(latents: Latents) -> np.ndarray:
            return session.run(None, onnx_inputs(G, latents))[0]

        return forward

    def onnxruntime_providers(self) -> list[str]:
        """ONNX Runtime's execution providers for the device: CUDA's first on a CUDA device, where it has one."""
        import onnxruntime

        if self.device.type != "cuda":
            return ["CPUExecutionProvider"]
        if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        log.warning("this ONNX Runtime has no CUDA provider (pip install onnxruntime-gpu): the graphs run on the CPU")
        return ["CPUExecutionProvider"]

    def warm_up(self, name: str, G: Generator, forward: Callable[[Latents], np.ndarray]) -> None:
        """One small and one large batch through ``forward``, on the torch thread (where batches run); on a CPU, with
        GAN_THREADS_FROM_ROWS=0, the forward pass timed to choose where its batches take every CPU."""
        for n in (1, min(self.settings.max_batch, 64)):
            self.executor.submit(forward, G.latents_for_seeds(range(n))).result()
        if (isinstance(forward, TorchForward) and self.device.type == "cpu" and not self.settings.threads_from_rows
                and not self.settings.threads):
            forward.from_rows = self.executor.submit(self.measured_from_rows, name, G, forward).result()

    def measured_from_rows(self, name: str, G: Generator, forward: TorchForward) -> int:
        """HEAVY_FROM_ROWS for a generator whose forward pass takes more than HEAVY_US an image on one thread (the
        torch thread is then the limit under load, and a second thread pays for the core it takes from the event
        loop), LIGHT_FROM_ROWS for a lighter one (the event loop is the limit)."""
        latents = G.latents_for_seeds(range(HEAVY_FROM_ROWS))
        forward.from_rows = HEAVY_FROM_ROWS + 1  # one thread for the timing
        best = float("inf")
        for _ in range(3):  # this thread's CPU time: a reload under load waits for the interpreter, not counted
            start = time.thread_time()
            forward(latents)
            best = min(best, time.thread_time() - start)
        us = best / len(latents) * 1e6
        rows = HEAVY_FROM_ROWS if us > HEAVY_US else LIGHT_FROM_ROWS
        log.info("%s (%s): %.0f us an image on one torch thread; every CPU from %d rows", name, G.family, us, rows)
        return rows

    def prepare(self, name: str, G: Generator) -> MicroBatcher:
        """``G``'s running copy, warmed up (a model that cannot run a batch raises here: reported, not served),
        behind a micro-batcher of its own."""
        forward = self.forward_fn(G)
        self.warm_up(name, G, forward)
        s = self.settings
        return MicroBatcher(forward, self.executor, s.max_batch, s.max_wait_ms / 1000, s.queue_size,
                            enabled=s.batching, on_batch=lambda size: self.on_batch and self.on_batch(name, size),
                            queue_timeout_s=s.queue_timeout_ms / 1000, inline_rows=s.inline_rows,
                            alone=self.alone)

    async def latents(self, G: Generator, seeds: Sequence[int], **conditioning: Any) -> Latents:
        """``G.latents_for_seeds``: many seeds' latents take milliseconds (256: 1.2 ms), so off the event loop, on
        the torch thread; inline when tiny. Not in the threadpool: torch work on a third thread gives OpenMP a second
        team, and the next batch's forward pays for it (256 MLP GAN images: 0.4 ms a request, docs/benchmarks.md)."""
        if len(seeds) <= INLINE_SEEDS:
            return G.latents_for_seeds(seeds, **conditioning)
        return await self.in_torch_thread(lambda: G.latents_for_seeds(seeds, **conditioning))

    @staticmethod
    def to_draw(G: Generator, seeds: Sequence[int], **conditioning: Any) -> ToDraw:
        """``G.latents_for_seeds`` left to the batch: drawn on the torch thread right before the forward pass (with
        no hop of its own), never on the event loop (unless the request runs inline there, alone)."""
        return ToDraw(len(seeds), lambda: G.latents_for_seeds(seeds, **conditioning))

    async def run(self, name: str, batcher: MicroBatcher, latents: Latents | ToDraw,
                  finish: Finish | None = None) -> Any:
        """The images of ``latents`` through the model's batcher (or ``finish`` of them, made on the torch thread right
        after the forward pass); a full queue, a queue timeout or a stopped batcher is a 503."""
        try:
            return await batcher.submit(latents, finish)
        except Unavailable as e:
            retry = {"Retry-After": str(self.settings.retry_after_s)}
            raise ApiError(503, f"model {name!r} is busy ({e}); retry shortly", headers=retry) from None

    async def in_torch_thread(self, fn: Callable[[], T]) -> T:
        """``fn()`` on the torch thread, after the forward passes queued before it (encoding, Q's reading)."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn)

    def stop(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def name_os_thread(name: str) -> None:
    """This thread's name in the kernel (Linux, 15 bytes at most; elsewhere nothing): Python 3.11 names its threads
    for itself only."""
    if sys.platform != "linux":
        return
    try:  # never fatal: an initializer that raises would break the executor, and every forward pass with it
        ctypes.CDLL(None).prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)
    except (OSError, AttributeError) as e:
        log.debug("thread %s not named for the system: %s", name, e)


class TorchForward:
    """A generator's running copy on torch, as latents -> uint8 pixels: on the torch thread a batch of ``from_rows``
    or more takes every CPU (GAN_THREADS_FROM_ROWS, or measured at warm-up), a smaller one a single thread; anywhere
    else (the event loop's inline batches) one thread."""

    def __init__(self, runner: Runner, G: Generator, dtype: torch.dtype) -> None:
        self.runner, self.G, self.device = runner, G, runner.device
        self.dtype_in = None if dtype == torch.float32 else dtype  # latents arrive in float32
        self.from_rows = runner.settings.threads_from_rows or LIGHT_FROM_ROWS

    @torch.inference_mode()
    def __call__(self, latents: Latents) -> np.ndarray:
        on_torch_thread = threading.current_thread().name.startswith(TORCH_THREAD)
        threads = self.runner.threads_for(len(latents), self.from_rows) if on_torch_thread else 1
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        return to_uint8(self.G(latents.to(self.device, self.dtype_in)))
