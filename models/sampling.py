"""Latents for the service's other routes, beside the one recipe from seeds (``Generator.latents_for_seeds``):
interpolation (slerp or lerp, conditioning blended), latent arithmetic with noisy neighbours, and InfoGAN's sweep
grids. Each takes latents or seeds and returns ``Latents`` whose labels and categories are still indices.

    a, b = G.latents_for_seeds([1], labels=3), G.latents_for_seeds([2], labels=7)
    walk = interpolate(a, b, steps=8)             # a 3 morphing into a 7: indices 3 and 7, blended by t
    images = G(walk)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from models.common import Generator, Latents


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows a and b (falls back to linear for near-parallel vectors)."""
    a64, b64 = a.double(), b.double()
    cos = (a64 @ b64) / (a64.norm() * b64.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1, 1))
    t = t.double()[:, None]
    if omega.abs() < 1e-4:
        out = (1 - t) * a64 + t * b64
    else:
        out = (torch.sin((1 - t) * omega) * a64 + torch.sin(t * omega) * b64) / torch.sin(omega)
    return out.float()


def interpolate(a: Latents, b: Latents, steps: int, method: str = "slerp") -> tuple[Latents, torch.Tensor]:
    """``steps`` rows from one-row latents ``a`` to ``b`` and the weights t (0 to 1) that made them: z by ``method``
    (slerp or lerp; the end rows exactly a's and b's), codes linearly, labels and categories blended from a's
    indices toward b's."""
    t = torch.linspace(0, 1, steps)
    mix = lambda x, y: None if x is None else (1 - t[:, None]) * x + t[:, None] * y  # noqa: E731
    z = slerp(a.z[0], b.z[0], t) if method == "slerp" else mix(a.z, b.z)
    z[0], z[-1] = a.z[0], b.z[0]  # exact end frames
    rows = lambda x: None if x is None else x.expand(steps).clone()  # noqa: E731
    conditional = a.labels is not None or a.categories is not None
    latents = Latents(z, rows(a.labels), rows(a.categories), mix(a.codes, b.codes),
                      t.clone() if conditional else None, rows(b.labels), rows(b.categories))
    return latents, t


def arithmetic(G: Generator, terms: Sequence[tuple[float, torch.Tensor]], neighbors: int, seed: int,
               base: Latents) -> tuple[Latents, list[torch.Tensor]]:
    """The DCGAN paper's vector arithmetic: the weighted sum of the terms' mean z, ``neighbors`` variants of it with
    uniform noise of +-0.25 (drawn with ``seed``), then each term's mean itself, all with ``base``'s (one row)
    conditioning. Returns the latents (result, neighbours, terms) and the terms' means."""
    means = [mean for _, mean in terms]
    result = sum(weight * mean for weight, mean in terms)
    gen = torch.Generator().manual_seed(seed)
    noise = (torch.rand(neighbors, G.z_dim, generator=gen) * 2 - 1) * 0.25
    z = torch.cat([result[None], result + noise, torch.stack(means)])
    rows = len(z)
    expand = lambda t: None if t is None else t.expand(rows, *t.shape[1:]).clone()  # noqa: E731
    return Latents(z, expand(base.labels), expand(base.categories), expand(base.codes)), means


@dataclass
class SweepGrid:
    """An InfoGAN sweep: the latents of a grid of ``columns`` columns and the value each column stands for."""

    latents: Latents
    values: list[float]
    columns: int


def sweep_categories(G: Generator, seed: int, rows: int, codes: Sequence[float] | None = None) -> SweepGrid:
    """Rows are the seeds ``seed``, ``seed + 1``, ...; columns every category; ``codes`` fixes the continuous codes
    (else each seed's own)."""
    base = G.latents_for_seeds(range(seed, seed + rows))
    reps = G.num_categories
    latents = Latents(base.z.repeat_interleave(reps, 0), None, torch.arange(reps).repeat(rows),
                      base.codes.repeat_interleave(reps, 0))
    if codes is not None:
        latents.codes[:] = torch.tensor(codes, dtype=torch.float32)
    return SweepGrid(latents, list(range(reps)), reps)


def sweep_code(G: Generator, seed: int, code: int, steps: int, low: float, high: float,
               fixed: Sequence[float] | None = None) -> SweepGrid:
    """Rows are the categories; columns ``steps`` values of continuous code ``code`` from ``low`` to ``high``, for
    seed ``seed``'s z and other codes (or ``fixed``'s values for the others)."""
    base = G.latents_for_seeds([seed])
    values = torch.linspace(low, high, steps).tolist()
    cells = G.num_categories * steps
    codes = base.codes.expand(cells, -1).clone()
    codes[:, code] = torch.tensor(values).repeat(G.num_categories)
    if fixed is not None:
        others = [i for i in range(G.num_continuous) if i != code]
        codes[:, others] = torch.tensor(fixed, dtype=torch.float32)[others]
    latents = Latents(base.z.expand(cells, -1).clone(), None,
                      torch.arange(G.num_categories).repeat_interleave(steps), codes)
    return SweepGrid(latents, values, steps)
