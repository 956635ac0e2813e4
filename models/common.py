"""What the four generator families share: seeded latents, sampling, weight initialisation."""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import torch
from torch import nn

Conditioning = int | Sequence[int] | torch.Tensor | None  # one class index for every row, or one per row


@dataclass
class Latents:
    """Everything a generator's forward pass takes, one row per image.

    Labels and categories are class indices, in this one form from the request to the network: ``forward`` makes
    their one-hot rows (``label_rows``, ``category_rows``). An interpolation between two conditional samples
    blends each row's one-hot toward the other end's indices (``blend_labels``, ``blend_categories``) by weight
    ``blend`` (0: the row's own indices, 1: the other end's): still indices, the blend made beside the one-hot.
    """

    z: torch.Tensor
    labels: torch.Tensor | None = None  # CGAN: class index per image, (n,) int64
    categories: torch.Tensor | None = None  # InfoGAN: categorical code per image, (n,) int64
    codes: torch.Tensor | None = None  # InfoGAN: continuous codes, shape (n, num_continuous)
    blend: torch.Tensor | None = None  # (n,) weight of the blend_* indices, with them or not at all
    blend_labels: torch.Tensor | None = None
    blend_categories: torch.Tensor | None = None
    FIELDS: ClassVar[tuple[str, ...]] = ("z", "labels", "categories", "codes", "blend", "blend_labels",
                                         "blend_categories")

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> Latents:
        """On ``device``; with ``dtype``, the floating fields (z, codes, blend) cast to it too."""
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            if t is None:
                return None
            return t.to(device, dtype) if dtype is not None and t.is_floating_point() else t.to(device)
        return Latents(*(move(getattr(self, f)) for f in self.FIELDS))

    def __len__(self) -> int:
        return self.z.shape[0]

    def __getitem__(self, rows: slice) -> Latents:
        return Latents(*(None if t is None else t[rows] for t in (getattr(self, f) for f in self.FIELDS)))

    def blended(self) -> Latents:
        """The same rows with an explicit blend (weight 0 toward their own indices) when they have labels or
        categories and no blend yet: the form in which blended and plain rows stack into one batch."""
        if self.blend is not None or (self.labels is None and self.categories is None):
            return self
        return Latents(self.z, self.labels, self.categories, self.codes, torch.zeros(len(self), device=self.z.device),
                       self.labels, self.categories)

    @staticmethod
    def cat(parts: Sequence[Latents]) -> Latents:
        """Stacks latents row-wise (all parts carry the same fields; blended and plain rows stack blended)."""
        if any(p.blend is not None for p in parts):
            parts = [p.blended() for p in parts]
        join = lambda ts: None if ts[0] is None else torch.cat(ts)  # noqa: E731
        return Latents(*(join([getattr(p, f) for p in parts]) for f in Latents.FIELDS))

    def label_rows(self, num_classes: int) -> torch.Tensor:
        """The labels as (blended) one-hot rows in z's dtype: what a conditional network takes."""
        if self.labels is None:
            raise ValueError("these latents have no labels")
        return self.rows(self.labels, self.blend_labels, num_classes)

    def category_rows(self, num_categories: int) -> torch.Tensor:
        if self.categories is None:
            raise ValueError("these latents have no categories")
        return self.rows(self.categories, self.blend_categories, num_categories)

    def rows(self, index: torch.Tensor, toward: torch.Tensor | None, n: int) -> torch.Tensor:
        rows = one_hot(index, n, self.z.dtype)
        if self.blend is None:
            return rows
        t = self.blend[:, None]
        return rows * (1 - t) + one_hot(toward, n, self.z.dtype) * t

    def described(self, num_classes: int, num_categories: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Each row's label and category as indices: its own, or for a blend the one with the larger weight."""
        if self.blend is None:
            return self.labels, self.categories
        labels = None if self.labels is None else self.label_rows(num_classes).argmax(1)
        categories = None if self.categories is None else self.category_rows(num_categories).argmax(1)
        return labels, categories


class Generator(nn.Module):
    """Base of every generator: images in [-1, 1] of shape ``img_shape`` from seeded latents.

    Subclasses set the dimension attributes in ``__init__`` and implement ``forward``.
    """

    family: ClassVar[str]
    z_dim: int
    img_shape: tuple[int, int, int]
    num_classes: int = 0  # > 0 for a class-conditional generator
    num_categories: int = 0  # > 0 for InfoGAN's categorical code
    num_continuous: int = 0  # InfoGAN's continuous codes, uniform on [-1, 1]

    def forward(self, latents: Latents) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def prior(self, n: int, generator: torch.Generator | None = None) -> Latents:
        """Draws ``n`` latents from the priors, in a fixed order: z, then label, category, codes."""
        z = torch.randn(n, self.z_dim, generator=generator)
        labels = categories = codes = None
        if self.num_classes:
            labels = torch.randint(self.num_classes, (n,), generator=generator)
        if self.num_categories:
            categories = torch.randint(self.num_categories, (n,), generator=generator)
        if self.num_continuous:
            codes = torch.rand(n, self.num_continuous, generator=generator).mul_(2).sub_(1)  # in place: the same bits
        return Latents(z, labels, categories, codes)

    def balanced_prior(self, n: int, generator: torch.Generator | None = None, repeat: int = 1) -> Latents:
        """``prior(n, generator)`` with every class and category equally often: row i gets index
        ``i // repeat`` modulo their count (``repeat=10``: a grid of ten columns has one per row)."""
        latents = self.prior(n, generator)
        index = torch.arange(n) // repeat
        if self.num_classes:
            latents.labels = index % self.num_classes
        if self.num_categories:
            latents.categories = index % self.num_categories
        return latents

    def latents_for_seeds(self, seeds: Sequence[int], labels: Conditioning = None, categories: Conditioning = None,
                          codes: Sequence[float] | torch.Tensor | None = None) -> Latents:
        """The one sampling recipe: one latent per seed, each drawn as ``prior(1, torch.Generator().manual_seed(s))``
        would draw it, so seed s always gives the same image; then the conditioning given replaces what was drawn
        (``labels``/``categories``: one index for every row or one per row; ``codes``: one vector for every row).
        What is given is still drawn first, in the prior's order, so that a seed's z and codes do not depend on
        whether its label was given. (One generator, reseeded per row, writing into the rows in place: the same
        numbers as a fresh generator and ``prior`` per seed, at a third of the cost.)

        >>> G.latents_for_seeds([3, 4], labels=7)  # row 1 equals G.latents_for_seeds([4], labels=7) row 0
        """
        latents = self.draw(seeds)
        n = len(latents)
        if labels is not None:
            latents.labels = indices(labels, n)
        if categories is not None:
            latents.categories = indices(categories, n)
        if codes is not None:
            latents.codes = torch.as_tensor(codes, dtype=torch.float32).expand(n, -1).clone()
        return latents

    def draw(self, seeds: Sequence[int]) -> Latents:
        gen = thread_generator()
        if len(seeds) == 1:  # a single image, the common request: one reseed and prior() itself (half the time)
            return self.prior(1, gen.manual_seed(int(seeds[0])))
        n = len(seeds)
        z = torch.empty(n, self.z_dim)
        labels = torch.empty(n, dtype=torch.long) if self.num_classes else None
        categories = torch.empty(n, dtype=torch.long) if self.num_categories else None
        codes = torch.empty(n, self.num_continuous) if self.num_continuous else None
        for i, seed in enumerate(seeds):  # the order of prior(): z, then label, category, codes
            gen.manual_seed(int(seed))
            torch.randn(1, self.z_dim, generator=gen, out=z[i : i + 1])
            if labels is not None:
                torch.randint(self.num_classes, (1,), generator=gen, out=labels[i : i + 1])
            if categories is not None:
                torch.randint(self.num_categories, (1,), generator=gen, out=categories[i : i + 1])
            if codes is not None:
                torch.rand(1, self.num_continuous, generator=gen, out=codes[i : i + 1])
        if codes is not None:
            codes = codes * 2 - 1
        return Latents(z, labels, categories, codes)

    @torch.inference_mode()
    def sample(
        self,
        n: int,
        labels: torch.Tensor | None = None,
        categories: torch.Tensor | None = None,
        codes: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``n`` images in [-1, 1]; what is not given is drawn from its prior with ``generator``."""
        latents = self.prior(n, generator)
        if labels is not None:
            latents.labels = labels
        if categories is not None:
            latents.categories = categories
        if codes is not None:
            latents.codes = codes
        device = next(self.parameters()).device
        return self(latents.to(device))


_local = threading.local()


def thread_generator() -> torch.Generator:
    """This thread's own CPU generator, made once: reseeded, it gives the same numbers as a fresh one (a generator
    is not shared between threads, and making one per request costs more than drawing a digit's latent)."""
    gen = getattr(_local, "generator", None)
    if gen is None:
        gen = _local.generator = torch.Generator()
    return gen


def indices(value: int | Sequence[int] | torch.Tensor, n: int) -> torch.Tensor:
    """One class index for every one of ``n`` rows, or one per row, as an (n,) int64 tensor."""
    if isinstance(value, int):
        return torch.full((n,), value)
    rows = torch.as_tensor(value, dtype=torch.long)
    if rows.shape != (n,):
        raise ValueError(f"{n} rows need {n} indices, got shape {tuple(rows.shape)}")
    return rows


def one_hot(index: torch.Tensor, n: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Class indices (n,) to one-hot rows of ``dtype`` (an index out of range is an error)."""
    return identity(n, index.device, dtype).index_select(0, index.long())  # F.one_hot(...).float() at a third


@functools.lru_cache(maxsize=32)
def identity(n: int, device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The n x n identity matrix on ``device``, made once (its rows are the one-hot rows; never written to)."""
    return torch.eye(n, device=device, dtype=dtype)


def init_dcgan_weights(module: nn.Module) -> None:
    """The DCGAN paper's initialisation: N(0, 0.02) weights, BN scale N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def upsampling_plan(side: int) -> tuple[int, int]:
    """``(the first feature map's side, the stride-2 upsamplings)`` that draw a ``side`` x ``side`` image: 28 from 7 in
    two (the MNIST layout), a power of two from 4 (the DCGAN paper's: 64 in four fractionally-strided steps)."""
    if side == 28:
        return 7, 2
    if side >= 8 and side & (side - 1) == 0:
        return 4, side.bit_length() - 3
    raise ValueError(f"images of side {side}: the generators draw 28 or a power of two from 8 (32, 64, 128)")


def upsampling_body(first: int, ups: int, channels: int, refine: bool, refine_keeps: bool = False
                    ) -> list[nn.Module]:
    """From ``first`` feature maps to a ``channels``-channel image in ``ups`` stride-2 upsamplings: ``ups - 1`` blocks
    halving the maps, then the output (a transposed convolution, or with ``refine`` one more block, halving the maps
    or keeping them with ``refine_keeps``, and a stride-1 convolution at full resolution), then tanh. At 28 pixels
    (two upsamplings) the layout of the shipped checkpoints, layer for layer."""
    widths = [first // 2**i for i in range(ups)]
    blocks: list[nn.Module] = [upsample_block(w, w // 2) for w in widths[:-1]]
    last = widths[-1]
    kept = last if refine_keeps else last // 2
    output = (nn.Sequential(upsample_block(last, kept), nn.Conv2d(kept, channels, 3, 1, 1)) if refine
              else nn.ConvTranspose2d(last, channels, 4, 2, 1))
    return [*blocks, output, nn.Tanh()]


def upsample_block(c_in: int, c_out: int) -> nn.Sequential:
    """Transposed convolution doubling the resolution, then batch norm and ReLU."""
    return nn.Sequential(
        nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)
    )


def downsample_block(c_in: int, c_out: int, batch_norm: bool = True) -> nn.Sequential:
    """Strided convolution halving the resolution, then (optionally) batch norm and LeakyReLU."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.LeakyReLU(0.2, True))
    return nn.Sequential(*layers)


class Judgement(NamedTuple):
    """A discriminator's verdict on a batch: D's logits (real: high), for InfoGAN Q's category logits and
    continuous-code means, for a CGAN with a class head its class logits (None where the family has none)."""

    logits: torch.Tensor
    cat_logits: torch.Tensor | None = None
    code_means: torch.Tensor | None = None
    class_logits: torch.Tensor | None = None


class Discriminator(nn.Module):
    """What every family's discriminator offers training: ``judge(x, latents)``, which reads from the latents
    whatever that family's D needs (CGAN's labels) and returns a ``Judgement``. ``forward`` keeps each family's
    own signature (the papers' networks, and the feature extractors built on them)."""

    def judge(self, x: torch.Tensor, latents: Latents) -> Judgement:
        return Judgement(self(x))


class Judge(nn.Module):
    """``D.judge`` as a module's forward, so that DistributedDataParallel (which hooks ``forward``) can wrap it."""

    def __init__(self, D: Discriminator) -> None:
        super().__init__()
        self.D = D

    def forward(self, x: torch.Tensor, latents: Latents) -> Judgement:
        return self.D.judge(x, latents)


class MinibatchStd(nn.Module):
    """Appends the batch's mean feature standard deviation as one more feature (map), as in ProGAN:
    a generator that covers few modes gives itself away by a low spread."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spread = x.std(dim=0, unbiased=False).mean()
        return torch.cat([x, spread.expand(x.shape[0], 1, *x.shape[2:])], dim=1)
