"""The service layer: owns the loaded generators and turns validated requests into images.

Every method returns ``Frames`` (uint8 images plus per-image facts); the web layer shapes them into
PNG or JSON. Torch work runs on one executor thread through each model's micro-batcher.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import re
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from app.batching import MicroBatcher, QueueFull, QueueTimeout
from app.config import Settings
from app.errors import ApiError, clip
from app.schemas import (
    MAX_SEED,
    ArithmeticRequest,
    Conditioning,
    GenerateRequest,
    InterpolateRequest,
    LatentRef,
    ModelCard,
    SweepRequest,
)
from models import Generator, Latents
from models.checkpoint import load_checkpoint
from models.graphs import GraphedForward, bucket_sizes
from models.images import NoDigitError, decode_image, grid_layout, mnist_like, to_uint8
from models.infogan import InfoganDiscriminator
from models.runtime import PRECISIONS, available_cpus, fold_batch_norm, keep_freed_memory, pick_device

log = logging.getLogger("gan_studio")
TORCH_THREAD = "torch"  # the executor thread's name prefix: the one thread that runs torch with several threads


def public_reason(error: Exception) -> str:
    """A load error for unauthenticated clients: file names kept, the folders they live in dropped."""
    return re.sub(r"(?:[A-Za-z]:)?(?:[/\\][^\s/\\'\":]*)+[/\\]", "", str(error))


@dataclass
class Frames:
    """Generated images (N, H, W, C) uint8 and, per image, what made it."""

    images: np.ndarray
    info: list[dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)
    columns: int | None = None


def name_key(name: str) -> str:
    """How a class name is matched: case, spaces, hyphens and underscores do not matter ("Ankle_Boot")."""
    return re.sub(r"[\s_-]+", "", name.casefold())


@dataclass
class LoadedModel:
    name: str
    G: Generator
    card: dict[str, Any]
    batcher: MicroBatcher

    @property
    def class_names(self) -> list[str] | None:
        return self.card.get("class_names")

    def label_index(self, value: int | str, field_name: str) -> int:
        """A label given by index or by class name ("sneaker"; also either half of "t-shirt/top") as its index."""
        if isinstance(value, int):
            return value
        if value.strip().isdecimal():
            return int(value)
        names = self.class_names
        if not names:
            raise ApiError(422, f"model {self.name!r} has no class names: give the label as a number from 0 "
                               f"to {self.G.num_classes - 1}, got {clip(value)!r}", field_name)
        key = name_key(value)
        for i, name in enumerate(names):
            if key == name_key(name) or key in (name_key(part) for part in name.split("/")):
                return i
        raise ApiError(422, f"label {clip(value)!r} is not a class of model {self.name!r}; its classes: "
                           f"{names} (or their indices 0 to {len(names) - 1})", field_name)

    def public_card(self, encoder: bool = False) -> ModelCard:
        G, card = self.G, self.card
        return ModelCard(
            name=self.name,
            family=G.family,
            dataset=card.get("dataset"),
            image_size=G.img_shape[1],
            channels=G.img_shape[0],
            z_dim=G.z_dim,
            num_classes=G.num_classes or None,
            num_categories=G.num_categories or None,
            num_continuous=G.num_continuous or None,
            epochs=card.get("epochs"),
            steps=card.get("steps"),
            training_time_s=card.get("training_time_s"),
            training_device=card.get("device"),
            class_names=card.get("class_names"),
            encoder=encoder,
            metrics=card.get("metrics", {}),
        )


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


@dataclass
class Encoding:
    """What InfoGAN's Q reads in an image: its category (and the distribution over categories), the digit that
    category stands for (from the card's category_to_digit, measured by the evaluator) and the continuous codes."""

    category: int
    probabilities: list[float]
    digit: int | None
    digit_probabilities: list[float] | None
    codes: list[float]
    seen: np.ndarray  # the 28 x 28 image Q read, after MNIST-like preparation (H, W, 1) uint8


class GanService:
    def __init__(self, settings: Settings, on_batch: Callable[[str, int], None] | None = None,
                 alone: Callable[[], bool] = lambda: False) -> None:
        """``alone`` says whether the request at hand is the only one the server is handling (then a small one
        may run inline, see MicroBatcher)."""
        self.settings, self.on_batch, self.alone = settings, on_batch, alone
        self.cpus = available_cpus()
        # Every multi-threaded torch call runs on the one torch thread (the executor's). OpenMP gives each thread
        # that runs a parallel region a team of its own; with two teams on these cores libgomp stops spinning
        # between regions and each region pays for waking its workers (a 256-image MLP forward: 3.1 -> 4.0 ms).
        # So this thread, the event loop's, keeps one thread: loading, and the small inline batches.
        torch.set_num_threads(1)
        if settings.keep_freed_memory:
            keep_freed_memory()  # process-wide; the in-process benchmark gets it too, as it makes a GanService
        self.device = pick_device(settings.device)
        self.cuda_graphs = settings.cuda_graphs and self.device.type == "cuda"
        if settings.cuda_graphs and not self.cuda_graphs:
            log.warning("GAN_CUDA_GRAPHS is for CUDA devices; the generators run as they are on %s", self.device)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=TORCH_THREAD)
        self.models: dict[str, LoadedModel] = {}
        self.unavailable: dict[str, str] = {}
        self.encoders: dict[str, tuple[InfoganDiscriminator, dict]] = {}  # generator name -> (D with Q, its card)

    # --- life cycle ---------------------------------------------------------------------------
    def load_all(self) -> None:
        """Loads every generator in the checkpoint folder; a broken one is logged and listed, never fatal."""
        folders = [Path(self.settings.checkpoint_dir)]
        if self.settings.extra_checkpoint_dir is not None:
            folders.append(Path(self.settings.extra_checkpoint_dir))
        for folder in folders:
            if folder.is_dir():
                self.load_folder(folder)
            else:
                log.warning("checkpoint folder %s not found", folder)
        self.check_encoders()

    def check_encoders(self) -> None:
        """An encoder serves only beside the very generator it was made for (its card names the sha256)."""
        for name, (_, card) in list(self.encoders.items()):
            expected = card.get("generator_sha256")
            actual = self.models[name].card.get("sha256") if name in self.models else None
            if name not in self.models or (expected and expected != actual):
                del self.encoders[name]
                self.unavailable[f"{name}-discriminator"] = (
                    f"made for {name} with sha256 {str(expected)[:12]}..., which is not the one loaded"
                    if name in self.models else f"its generator {name} is not loaded")

    def load_folder(self, directory: Path) -> None:
        for card_path in sorted(directory.glob("*.json")):
            name = card_path.stem
            try:
                model, card = load_checkpoint(card_path, self.device, within=directory)
                if isinstance(model, InfoganDiscriminator) and card.get("generator"):
                    self.encoders[card["generator"]] = (model, card)  # Q: POST /infogan/encode
                    log.info("loaded %s (InfoGAN's Q for %s) on %s", name, card["generator"], self.device)
                if not isinstance(model, Generator):
                    continue  # discriminators and the evaluation classifier live beside the generators
                forward = self.forward_fn(model)  # the running copy, made once
                self.warm_up(model, forward)  # a model that cannot run a batch is reported, not served
                self.models[name] = LoadedModel(name, model, card, self.make_batcher(name, forward))
                log.info("loaded %s (%s) on %s", name, card["class_name"], self.device)
            except Exception as e:  # noqa: BLE001 - any broken file is reported, the rest still serve
                self.unavailable[name] = public_reason(e)
                log.error("checkpoint %s unavailable: %s", name, e)  # the full story, paths included

    def make_batcher(self, name: str, forward: Callable[[Latents], np.ndarray]) -> MicroBatcher:
        s = self.settings
        return MicroBatcher(forward, self.executor, s.max_batch, s.max_wait_ms / 1000, s.queue_size,
                            enabled=s.batching, on_batch=lambda size: self.on_batch and self.on_batch(name, size),
                            queue_timeout_s=s.queue_timeout_ms / 1000, inline_rows=s.inline_rows,
                            alone=self.alone)

    def threads_for(self, rows: int) -> int:
        """Torch threads for a batch: one for small batches (a second thread saves less than it costs the
        event loop it competes with for the cores), every CPU for large ones; GAN_THREADS fixes it."""
        if self.settings.threads:
            return self.settings.threads
        return 1 if rows < self.settings.threads_from_rows else self.cpus

    def forward_fn(self, G: Generator):
        device = self.device
        # The running copy: the loaded model itself is left as it is.
        G = fold_batch_norm(G) if self.settings.fold_batch_norm else copy.deepcopy(G)  # within 1 grey level
        if self.settings.channels_last and any(p.dim() == 4 for p in G.parameters()):
            G = G.to(memory_format=torch.channels_last)  # the convolutions' faster layout on CPU (same pixels)
        dtype = PRECISIONS[self.settings.precision]
        G = G.to(dtype)
        if self.cuda_graphs:  # captured here, at load time: one graph per batch-size bucket
            return GraphedForward(G, bucket_sizes(self.settings.max_batch), device, dtype)
        dtype_in = None if dtype == torch.float32 else dtype  # latents arrive as float32 one-hot rows

        @torch.inference_mode()
        def forward(latents: Latents) -> np.ndarray:
            on_torch_thread = threading.current_thread().name.startswith(TORCH_THREAD)
            threads = self.threads_for(len(latents)) if on_torch_thread else 1
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
            return to_uint8(G(latents.to(device, dtype_in)))

        return forward

    def warm_up(self, G: Generator, forward: Callable[[Latents], np.ndarray]) -> None:
        """One small and one large batch through ``forward``, on the torch thread (where batches run)."""
        for n in (1, min(self.settings.max_batch, 64)):
            self.executor.submit(forward, G.one_hot_rows(G.latents_for_seeds(range(n)))).result()

    async def start(self) -> None:
        for m in self.models.values():
            m.batcher.start()

    async def stop(self) -> None:
        for m in self.models.values():
            await m.batcher.stop()
        self.executor.shutdown(wait=False, cancel_futures=True)

    # --- lookup and validation ----------------------------------------------------------------
    def get(self, name: str) -> LoadedModel:
        if name in self.models:
            return self.models[name]
        if name in self.unavailable:
            raise ApiError(503, f"model {name!r} failed to load: {self.unavailable[name]}", "model")
        raise ApiError(404, f"unknown model {clip(name)!r}; available: {sorted(self.models)}", "model")

    async def encode_image(self, name: str, data: bytes) -> Encoding:
        """InfoGAN's Q on one image (any size, either polarity; prepared like MNIST's digits)."""
        model = self.get(name)
        if name not in self.encoders:
            with_q = sorted(self.encoders)
            raise ApiError(422, f"model {clip(name)!r} has no InfoGAN encoder (Q); models with one: {with_q}",
                               "model")
        Q, _ = self.encoders[name]
        mapping = model.card.get("metrics", {}).get("category_to_digit")
        limit = self.settings.max_output_pixels

        def read() -> Encoding:
            try:
                x = mnist_like(decode_image(data, limit))
            except NoDigitError as e:
                raise ApiError(422, str(e), "image") from None
            except ValueError as e:
                raise ApiError(422, f"image {e}", "image") from None
            with torch.inference_mode():
                cat_logits, codes = Q.encode(x.to(self.device))
            probs = cat_logits.softmax(1)[0].double().cpu()
            category = int(probs.argmax())
            digit = digit_probs = None
            if mapping and len(mapping) == len(probs):
                digit = int(mapping[category])
                digit_probs = torch.zeros(10, dtype=torch.float64).index_add_(0, torch.tensor(mapping), probs)
                digit_probs = [round(float(v), 4) for v in digit_probs]
            return Encoding(category, [round(float(v), 4) for v in probs], digit, digit_probs,
                            [round(float(v), 4) for v in codes[0].cpu()], to_uint8(x)[0])

        return await asyncio.get_running_loop().run_in_executor(self.executor, read)

    def etag(self, req: GenerateRequest) -> str | None:
        """A strong ETag for a seeded request: a pure function of the checkpoint's sha256 and the normalised
        parameters (and the settings that may move a pixel by a grey level); None when the card has no sha256
        to vouch."""
        sha = self.get(req.model).card.get("sha256")
        if not sha:
            return None
        key = {"sha256": sha, "params": req.model_dump(mode="json", exclude_none=True),
               "channels_last": self.settings.channels_last, "fold_batch_norm": self.settings.fold_batch_norm,
               "precision": self.settings.precision, **({"cuda_graphs": True} if self.cuda_graphs else {}),
               "torch": torch.__version__}
        return '"' + hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32] + '"'

    def check_output(self, G: Generator, n: int, fmt: str, columns: int | None, scale: int, field: str) -> None:
        """Refuses, before any work, a response over GAN_MAX_IMAGES images or GAN_MAX_OUTPUT_PIXELS pixels;
        ``field`` names what makes the count (n, steps, rows)."""
        s = self.settings
        if n > s.max_images:
            raise ApiError(422, f"the response would hold {n} images; at most {s.max_images} "
                               "(GAN_MAX_IMAGES)", field)
        _, h, w = G.img_shape
        if fmt == "npy":
            scale = 1  # raw pixels: no enlargement
        if fmt == "png":
            _, height, width = grid_layout(n, h, w, columns)
            size = f"a {width * scale}x{height * scale} PNG"
        else:
            height, width = h, n * w
            size = f"{n} images of {w * scale}x{h * scale}"
        pixels = height * width * scale * scale
        if pixels > s.max_output_pixels:
            raise ApiError(
                422, f"the response would be {size}, {pixels / 1e6:.1f} megapixels; at most "
                f"{s.max_output_pixels / 1e6:g} megapixels (GAN_MAX_OUTPUT_PIXELS): lower scale or ask for fewer "
                "images", "scale" if scale > 1 else field)

    def check_conditioning(self, model: LoadedModel, c: Conditioning,
                           labels: list[int | str] | None = None) -> list[int] | None:
        """Checks the conditional inputs against the model; ``c.label`` given by name becomes its index. Returns
        ``labels`` as indices."""
        G, name = model.G, model.name
        if (c.label is not None or labels is not None) and not G.num_classes:
            raise ApiError(422, f"model {name!r} takes no label (it is not class-conditional)", "label")
        if c.label is not None:
            c.label = model.label_index(c.label, "label")
        if labels is not None:
            labels = [model.label_index(v, f"labels.{i}") for i, v in enumerate(labels)]
        for value in ([c.label] if c.label is not None else []) + (labels or []):
            if value >= G.num_classes:
                raise ApiError(422, f"label must be between 0 and {G.num_classes - 1}, got {value}", "label")
        if c.category is not None:
            if not G.num_categories:
                raise ApiError(422, f"model {name!r} has no categorical code", "category")
            if c.category >= G.num_categories:
                raise ApiError(
                    422, f"category must be between 0 and {G.num_categories - 1}, got {c.category}", "category"
                )
        if c.codes is not None:
            if not G.num_continuous:
                raise ApiError(422, f"model {name!r} has no continuous codes", "codes")
            if len(c.codes) != G.num_continuous:
                raise ApiError(
                    422, f"codes must have {G.num_continuous} values, got {len(c.codes)}", "codes"
                )
        return labels

    @staticmethod
    def check_z(G: Generator, z: list[float], field_name: str) -> torch.Tensor:
        if len(z) != G.z_dim:
            raise ApiError(422, f"z must have {G.z_dim} values for this model, got {len(z)}", field_name)
        return torch.tensor(z, dtype=torch.float32)

    async def latents_for_seeds(self, G: Generator, seeds: list[int]) -> Latents:
        """Drawing many seeds' latents takes milliseconds (256: 1.2 ms): off the event loop then, on the torch
        thread, inline when it is tiny. Not in the threadpool: torch work on a third thread gives OpenMP a second
        team, and the next batch's forward pays for it (256 MLP GAN images: 0.4 ms a request, docs/benchmarks.md)."""
        if len(seeds) <= 8:
            return G.latents_for_seeds(seeds)
        return await asyncio.get_running_loop().run_in_executor(self.executor, G.latents_for_seeds, seeds)

    async def run(self, model: LoadedModel, latents: Latents) -> np.ndarray:
        try:
            return await model.batcher.submit(model.G.one_hot_rows(latents))
        except (QueueFull, QueueTimeout) as e:
            retry = {"Retry-After": str(self.settings.retry_after_s)}
            raise ApiError(503, f"model {model.name!r} is busy ({e}); retry shortly", headers=retry) from None

    @staticmethod
    def describe(model: LoadedModel, latents: Latents, with_z: bool) -> list[dict[str, Any]]:
        """What made each image, one dict per row: label (and its name), category, codes, z. Tensors become lists
        once for all rows, not indexed per row (a 256-image InfoGAN answer: 1,024 small tensor operations)."""
        n = len(latents)
        columns: dict[str, list[Any]] = {}
        if latents.labels is not None:
            labels = latents.labels.argmax(1) if latents.labels.dim() == 2 else latents.labels
            columns["label"] = labels.tolist()
            if model.class_names:
                columns["label_name"] = [model.class_names[label] for label in columns["label"]]
        if latents.categories is not None:
            cats = latents.categories
            columns["category"] = (cats.argmax(1) if cats.dim() == 2 else cats).tolist()
        if latents.codes is not None:
            columns["codes"] = [[round(v, 6) for v in row] for row in latents.codes.tolist()]
        if with_z:
            columns["z"] = latents.z.tolist()
        return [{key: values[i] for key, values in columns.items()} for i in range(n)]

    @classmethod
    def seed_info(cls, model: LoadedModel, latents: Latents, seeds: list[int], with_z: bool) -> list[dict[str, Any]]:
        """The JSON facts of seeded images: each one's seed, then ``describe``'s."""
        return [{"seed": s} | row for s, row in zip(seeds, cls.describe(model, latents, with_z), strict=True)]

    # --- endpoints ----------------------------------------------------------------------------
    async def generate(self, req: GenerateRequest) -> Frames:
        model = self.get(req.model)
        G = model.G
        self.check_output(G, req.n, req.format, req.columns, req.scale, "seeds" if req.seeds else "n")
        labels = self.check_conditioning(model, req, req.labels)
        seed = secrets.randbelow(2**31) if req.seed is None else req.seed
        if req.seeds is None and seed + req.n - 1 > MAX_SEED:
            raise ApiError(422, f"seed + n - 1 must be at most {MAX_SEED}", "seed")
        seeds = req.seeds or list(range(seed, seed + req.n))
        latents = G.condition(await self.latents_for_seeds(G, seeds), req.label, req.category, req.codes)
        if labels is not None:
            latents.labels = torch.tensor(labels)
        # what made each image is told in JSON only (PNG and npy give the first seed in a header)
        info = self.seed_info(model, latents, seeds, req.return_latents) if req.format == "json" else []
        images = await self.run(model, latents)
        return Frames(images, info, {"seed": seeds[0]}, req.columns)

    def latent_of(self, G: Generator, ref: LatentRef, field_name: str) -> Latents:
        if ref.seed is not None:
            return G.latents_for_seeds([ref.seed])
        latents = G.latents_for_seeds([0])  # conditional inputs of a bare z: seed 0's, unless given
        latents.z = self.check_z(G, ref.z, f"{field_name}.z")[None]
        return latents

    async def interpolate(self, req: InterpolateRequest) -> Frames:
        model = self.get(req.model)
        G = model.G
        self.check_conditioning(model, req)
        self.check_output(G, req.steps, req.format, req.columns or req.steps, req.scale, "steps")
        a = G.one_hot_rows(G.condition(self.latent_of(G, req.start, "start"), req.label, req.category, req.codes))
        b = G.one_hot_rows(G.condition(self.latent_of(G, req.end, "end"), req.label, req.category, req.codes))
        t = torch.linspace(0, 1, req.steps)
        mix = lambda x, y: None if x is None else (1 - t[:, None]) * x + t[:, None] * y  # noqa: E731
        z = slerp(a.z[0], b.z[0], t) if req.method == "slerp" else mix(a.z, b.z)
        latents = Latents(z, mix(a.labels, b.labels), mix(a.categories, b.categories), mix(a.codes, b.codes))
        latents.z[0], latents.z[-1] = a.z[0], b.z[0]  # exact end frames
        images = await self.run(model, latents)
        described = self.describe(model, latents, False)
        info = [{"t": round(step, 6)} | row for step, row in zip(t.tolist(), described, strict=True)]
        return Frames(images, info, {"method": req.method}, req.columns or req.steps)

    async def arithmetic(self, req: ArithmeticRequest) -> Frames:
        model = self.get(req.model)
        G = model.G
        self.check_conditioning(model, req)
        shown = 1 + req.neighbors + (len(req.terms) if req.format == "json" else 0)
        self.check_output(G, shown, req.format, req.columns or 1 + req.neighbors, req.scale, "neighbors")
        means = []
        for i, term in enumerate(req.terms):
            if term.seeds is not None:
                means.append(G.latents_for_seeds(term.seeds).z.mean(0))
            else:
                means.append(self.check_z(G, term.z, f"terms.{i}.z"))
        result = sum(term.weight * m for term, m in zip(req.terms, means, strict=True))
        gen = torch.Generator().manual_seed(req.seed)
        noise = (torch.rand(req.neighbors, G.z_dim, generator=gen) * 2 - 1) * 0.25
        z = torch.cat([result[None], result + noise, torch.stack(means)])
        base = G.condition(G.latents_for_seeds([req.seed]), req.label, req.category, req.codes)
        rows = len(z)
        expand = lambda t: None if t is None else t.expand(rows, *t.shape[1:]).clone()  # noqa: E731
        latents = Latents(z, expand(base.labels), expand(base.categories), expand(base.codes))
        images = await self.run(model, latents)
        k = 1 + req.neighbors
        described = self.describe(model, latents[:k], True)  # the shown rows; the terms' are told as z below
        info = [{"kind": "result" if i == 0 else "neighbor"} | row for i, row in enumerate(described)]
        terms = [{"weight": term.weight, "z": means[i].tolist()} for i, term in enumerate(req.terms)]
        return Frames(images[:k], info, {"terms": terms, "term_images": images[k:]}, req.columns or k)

    async def sweep(self, req: SweepRequest) -> Frames:
        model = self.get(req.model)
        G = model.G
        if not G.num_categories:
            raise ApiError(422, f"model {req.model!r} has no InfoGAN codes to sweep", "model")
        if req.codes is not None and len(req.codes) != G.num_continuous:
            raise ApiError(422, f"codes must have {G.num_continuous} values, got {len(req.codes)}", "codes")
        if req.vary == "category":
            self.check_output(G, req.rows * G.num_categories, req.format, req.columns or G.num_categories,
                              req.scale, "rows")
            base = G.latents_for_seeds(range(req.seed, req.seed + req.rows))
            reps = G.num_categories
            latents = Latents(base.z.repeat_interleave(reps, 0), None,
                              torch.arange(reps).repeat(req.rows), base.codes.repeat_interleave(reps, 0))
            values: list[float] = list(range(reps))
            columns = reps
        else:
            if req.vary >= G.num_continuous:
                raise ApiError(
                    422, f"vary must be 'category' or a code index below {G.num_continuous}, got {req.vary}", "vary"
                )
            self.check_output(G, G.num_categories * req.steps, req.format, req.columns or req.steps, req.scale,
                              "steps")
            base = G.latents_for_seeds([req.seed])
            values = torch.linspace(req.low, req.high, req.steps).tolist()
            cells = G.num_categories * req.steps
            codes = base.codes.expand(cells, -1).clone()
            codes[:, req.vary] = torch.tensor(values).repeat(G.num_categories)
            latents = Latents(base.z.expand(cells, -1).clone(), None,
                              torch.arange(G.num_categories).repeat_interleave(req.steps), codes)
            columns = req.steps
        if req.codes is not None:
            fixed = torch.tensor(req.codes, dtype=torch.float32)
            keep = slice(None) if req.vary == "category" else [i for i in range(G.num_continuous) if i != req.vary]
            latents.codes[:, keep] = fixed[keep]
        images = await self.run(model, latents)
        info = self.describe(model, latents, False)
        extra = {"vary": req.vary, "values": [round(v, 6) for v in values], "rows": len(latents) // columns,
                 "columns": columns}
        return Frames(images, info, extra, req.columns or columns)

