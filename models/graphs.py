"""A generator's forward pass captured as CUDA graphs (``GAN_CUDA_GRAPHS``, ``python -m bench --cuda-graphs``).

On a GPU a small generator's forward is mostly kernel launches: a graph replays the whole pass (and the
conversion to 8-bit pixels) as one launch. A graph has fixed shapes, so there is one per batch size in a list of
buckets (powers of two up to the largest batch); a batch runs as the smallest bucket that holds it.

    forward = GraphedForward(G, bucket_sizes(256), torch.device("cuda"))
    pixels = forward(G.latents_for_seeds(range(10)))   # (10, 28, 28, 1) uint8, the 16-row graph
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from models.common import Generator, Latents
from models.images import pixel_tensor


def bucket_sizes(max_batch: int) -> list[int]:
    """1, 2, 4, ... below ``max_batch``, then ``max_batch`` itself."""
    sizes, size = [], 1
    while size < max_batch:
        sizes.append(size)
        size *= 2
    return [*sizes, max_batch]


class GraphedForward:
    """``G``'s forward plus ``pixel_tensor``, one captured graph per size in ``sizes``.

    A batch's latents (indices; a conditional model's always with a blend, a zero one for plain rows, so that
    interpolations and plain requests share the graphs) are copied into the bucket's static input; rows past the
    batch keep what they held (each image depends on its own row only: batch norm runs in eval mode) and are
    sliced off the static output. A batch larger than the largest bucket runs in chunks of it. With
    ``capture=False`` the same padded path runs eagerly, without graphs (how the CPU tests check the bookkeeping).
    """

    def __init__(self, G: Generator, sizes: Sequence[int], device: torch.device,
                 dtype: torch.dtype = torch.float32, capture: bool = True) -> None:
        if capture and device.type != "cuda":
            raise ValueError(f"CUDA graphs need a CUDA device, not {device}")
        self.G, self.sizes, self.device = G.eval(), sorted(set(sizes)), device
        self.dtype_in = None if dtype == torch.float32 else dtype  # latents arrive as float32
        self.pool = None  # every graph of this generator shares the largest one's memory pool
        self.buckets: dict[int, tuple[torch.cuda.CUDAGraph | None, Latents, torch.Tensor | None]] = {}
        with torch.inference_mode():
            for size in reversed(self.sizes):
                static = G.latents_for_seeds(range(size)).blended().to(device, self.dtype_in)
                self.buckets[size] = self.record(static) if capture else (None, static, None)

    def record(self, static: Latents) -> tuple[torch.cuda.CUDAGraph, Latents, torch.Tensor]:
        side = torch.cuda.Stream(self.device)  # warm-up off the default stream, as torch.cuda.graph asks
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(3):
                pixel_tensor(self.G(static))
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self.pool):
            output = pixel_tensor(self.G(static))
        self.pool = self.pool if self.pool is not None else graph.pool()
        return graph, static, output

    def bucket(self, n: int) -> int:
        return next(size for size in self.sizes if size >= n)

    @torch.inference_mode()
    def __call__(self, latents: Latents) -> np.ndarray:
        largest = self.sizes[-1]
        if len(latents) > largest:
            return np.concatenate([self(latents[i : i + largest]) for i in range(0, len(latents), largest)])
        n, latents = len(latents), latents.blended()
        graph, static, output = self.buckets[self.bucket(n)]
        for name in Latents.FIELDS:
            source, target = getattr(latents, name), getattr(static, name)
            if (source is None) != (target is None):
                raise ValueError(f"latents {'without' if source is None else 'with'} {name}, unlike the graph's")
            if source is not None:
                target[:n].copy_(source)  # to the device and type, in place
        if graph is None:
            output = pixel_tensor(self.G(static))
        else:
            graph.replay()
        return output[:n].cpu().numpy()
