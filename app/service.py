"""The service: one method per image route, from a validated request to ``Frames`` (uint8 images plus what made
each one); the routes shape them into PNG, npy or JSON. It composes the registry (which models exist), validation
(the request resolved against its model), the sampling recipes of models/ (seeds and conditioning to latents) and
the runner (where the torch work happens).

    service = GanService(settings); service.load_all(); await service.start()
    frames = await service.generate(GenerateRequest(model="cgan-mnist", label=7, n=4, seed=1))
    onnx = await service.onnx_file("cgan-mnist", lambda etag: False)   # its ONNX graph, exported once per version
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from app.batching import Finish, ToDraw
from app.config import Settings
from app.decoding import Decoder
from app.errors import ApiError
from app.ids import new_seed
from app.registry import LoadedModel, Registry
from app.runner import Runner
from app.schemas import ArithmeticRequest, GenerateRequest, InterpolateRequest, LatentRef, SweepRequest
from app.validation import (
    Conditions,
    check_codes,
    check_output,
    resolve_conditions,
    resolve_generate,
    z_vector,
)
from models import Latents
from models.images import png_bytes, to_uint8
from models.sampling import arithmetic, interpolate, sweep_categories, sweep_code


@dataclass
class Frames:
    """Generated images (N, H, W, C) uint8 and, per image, what made it."""

    images: np.ndarray
    info: list[dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)
    columns: int | None = None
    version: str = ""  # of the model that made them
    pngs: list[bytes] | None = None  # each image as PNG at the request's scale, when made with the pixels


SMALL_PIXELS = 4096  # an answer this small is encoded where it is made: tens of microseconds, less than a hop


def pngs_in_batch(req: GenerateRequest, model: LoadedModel) -> bool:
    """Whether the answer's PNGs are made with its pixels, on the torch thread right after the forward pass: a small
    answer of one PNG each (JSON, or a single PNG; a grid is made from all of them). Under load the event loop is
    the one process's limit, and a 28 x 28 digit's PNG is some 10 us of its work (``python -m bench.png_bench``)."""
    channels, height, width = model.G.img_shape
    return ((req.format == "json" or (req.format == "png" and req.n == 1))
            and req.n * channels * height * width * req.scale**2 <= SMALL_PIXELS)


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
    version: str = ""  # of the generator whose Q read it


ONNX_FORMAT = 1  # what GET /models/{name}/model.onnx holds (inputs, outputs, pixels): a change here changes its ETag


@dataclass
class OnnxFile:
    """A model's ONNX graph (uint8 pixels) as GET /models/{name}/model.onnx answers it; ``data`` is None when the
    client's copy is current (a 304, not exported for it)."""

    etag: str
    version: str
    data: bytes | None


def describe(model: LoadedModel, latents: Latents, with_z: bool) -> list[dict[str, Any]]:
    """What made each image, one dict per row: label (and its name), category, codes, z. Tensors become lists
    once for all rows, not indexed per row (a 256-image InfoGAN answer: 1,024 small tensor operations)."""
    n = len(latents)
    columns: dict[str, list[Any]] = {}
    labels, categories = latents.described(model.G.num_classes, model.G.num_categories)
    if labels is not None:
        columns["label"] = labels.tolist()
        if model.class_names:
            columns["label_name"] = [model.class_names[label] for label in columns["label"]]
    if categories is not None:
        columns["category"] = categories.tolist()
    if latents.codes is not None:
        columns["codes"] = [[round(v, 6) for v in row] for row in latents.codes.tolist()]
    if with_z:
        columns["z"] = latents.z.tolist()
    return [{key: values[i] for key, values in columns.items()} for i in range(n)]


def seed_info(model: LoadedModel, latents: Latents, seeds: list[int], with_z: bool) -> list[dict[str, Any]]:
    """The JSON facts of seeded images: each one's seed, then ``describe``'s."""
    return [{"seed": s} | row for s, row in zip(seeds, describe(model, latents, with_z), strict=True)]


class GanService:
    def __init__(self, settings: Settings, on_batch: Callable[[str, int], None] | None = None,
                 alone: Callable[[], bool] = lambda: False,
                 on_reload: Callable[[str, str, str | None], None] | None = None) -> None:
        self.settings = settings
        self.runner = Runner(settings, on_batch, alone)
        self.registry = Registry(settings, self.runner, on_reload)
        self.decoder = Decoder(settings)
        self.onnx_exports: dict[str, tuple[str, asyncio.Future[bytes]]] = {}  # name -> (version, its export)

    # --- life cycle ---------------------------------------------------------------------------
    def load_all(self) -> None:
        self.registry.load_all()

    async def start(self) -> None:
        self.registry.start()

    async def stop(self) -> None:
        await self.registry.stop()
        self.runner.stop()
        self.decoder.stop()

    async def run(self, model: LoadedModel, latents: Latents | ToDraw, finish: Finish | None = None) -> Any:
        return await self.runner.run(model.name, model.batcher, latents, finish)

    # --- routes -------------------------------------------------------------------------------
    async def generate(self, req: GenerateRequest) -> Frames:
        model = self.registry.get(req.model)
        job = resolve_generate(self.settings, model, req, new_seed())
        # what made each image is told in JSON only (PNG and npy give the first seed in a header): for those the
        # latents are drawn on the torch thread with the batch
        if req.format == "json":
            latents = await self.runner.latents(model.G, job.seeds, **job.conditions.kwargs())
            info = seed_info(model, latents, job.seeds, req.return_latents)
        else:
            latents, info = self.runner.to_draw(model.G, job.seeds, **job.conditions.kwargs()), []
        if pngs_in_batch(req, model):
            scale = req.scale
            images, pngs = await self.run(model, latents, lambda rows: (rows, [png_bytes(r, scale) for r in rows]))
        else:
            images, pngs = await self.run(model, latents), None
        return Frames(images, info, {"seed": job.seeds[0]}, req.columns, model.version, pngs)

    def etag(self, req: GenerateRequest) -> str | None:
        """A strong ETag for a seeded request: a pure function of the checkpoint's sha256 and the resolved
        parameters (a label by index, with a leading zero or by name is one label), and the settings that may
        move a pixel by a grey level; None when the card has no sha256 to vouch. Validation errors are raised."""
        model = self.registry.get(req.model)
        sha = model.card.get("sha256")
        if not sha:
            return None
        job = resolve_generate(self.settings, model, req, 0)
        params = req.model_dump(mode="json", exclude_none=True)
        if job.conditions.labels is not None:
            params["label" if req.label is not None else "labels"] = job.conditions.labels
        key = {"sha256": sha, "params": params,
               "channels_last": self.settings.channels_last, "fold_batch_norm": self.settings.fold_batch_norm,
               "precision": self.settings.precision, **({"cuda_graphs": True} if self.runner.cuda_graphs else {}),
               **({"backend": self.settings.backend} if self.runner.onnxruntime else {}), "torch": torch.__version__}
        return '"' + hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32] + '"'

    def onnx_etag(self, model: LoadedModel) -> str | None:
        """A strong ETag for the model's ONNX file from the checkpoint's sha256 and the exporter (its opset, the pixels,
        the file's format, and torch, whose tracer writes the bytes); None when the card has no sha256 to vouch."""
        from models.onnx import OPSET

        sha = model.card.get("sha256")
        if not sha:
            return None
        key = {"sha256": sha, "opset": OPSET, "pixels": "uint8", "format": ONNX_FORMAT, "torch": torch.__version__}
        return '"onnx-' + hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32] + '"'

    async def onnx_file(self, name: str, current: Callable[[str], bool]) -> OnnxFile:
        """Model ``name`` as an ONNX graph, exported on the torch thread once per loaded version (a checkpoint of some
        MB: 0.05-0.3 s) and kept; ``current(etag)`` says whether the client holds that version already (then no
        export, no bytes). A 503 when the onnx package is missing (pip install 'gan-studio[onnx]')."""
        model = self.registry.get(name)
        etag = self.onnx_etag(model)
        if etag is not None and current(etag):
            return OnnxFile(etag, model.version, None)
        if importlib.util.find_spec("onnx") is None:
            raise ApiError(503, "this server cannot export ONNX: the onnx package is not installed (pip install "
                           "'gan-studio[onnx]')")
        for gone in set(self.onnx_exports) - set(self.registry.models):
            del self.onnx_exports[gone]
        version, export = self.onnx_exports.get(name, ("", None))
        if export is None or version != model.version or (export.done() and export.exception() is not None):
            from models.onnx import export_onnx

            G, card = model.G, model.card
            export = asyncio.ensure_future(self.runner.in_torch_thread(lambda: export_onnx(G, card)))
            self.onnx_exports[name] = (model.version, export)
        data = await asyncio.shield(export)  # a client that leaves does not cancel the export others wait for
        if etag is None:
            etag = '"onnx-' + hashlib.sha256(data).hexdigest()[:32] + '"'
            if current(etag):
                return OnnxFile(etag, model.version, None)
        return OnnxFile(etag, model.version, data)

    def latent_of(self, model: LoadedModel, ref: LatentRef, conditions: Conditions, field_name: str) -> Latents:
        G = model.G
        if ref.seed is not None:
            return G.latents_for_seeds([ref.seed], **conditions.kwargs())
        latents = G.latents_for_seeds([0], **conditions.kwargs())  # a bare z's conditional inputs: seed 0's
        latents.z = z_vector(G, ref.z, f"{field_name}.z")[None]
        return latents

    async def interpolate(self, req: InterpolateRequest) -> Frames:
        model = self.registry.get(req.model)
        conditions = resolve_conditions(model, req)
        check_output(self.settings, model.G, req.steps, req.format, req.columns or req.steps, req.scale, "steps")
        a = self.latent_of(model, req.start, conditions, "start")
        b = self.latent_of(model, req.end, conditions, "end")
        latents, t = interpolate(a, b, req.steps, req.method)
        images = await self.run(model, latents)
        info = [{"t": round(step, 6)} | row for step, row in zip(t.tolist(), describe(model, latents, False),
                                                                  strict=True)]
        return Frames(images, info, {"method": req.method}, req.columns or req.steps, model.version)

    async def arithmetic(self, req: ArithmeticRequest) -> Frames:
        model = self.registry.get(req.model)
        G = model.G
        conditions = resolve_conditions(model, req)
        shown = 1 + req.neighbors + (len(req.terms) if req.format == "json" else 0)
        check_output(self.settings, G, shown, req.format, req.columns or 1 + req.neighbors, req.scale, "neighbors")
        terms = []
        for i, term in enumerate(req.terms):
            mean = (G.latents_for_seeds(term.seeds).z.mean(0) if term.seeds is not None
                    else z_vector(G, term.z, f"terms.{i}.z"))
            terms.append((term.weight, mean))
        base = G.latents_for_seeds([req.seed], **conditions.kwargs())
        latents, means = arithmetic(G, terms, req.neighbors, req.seed, base)
        images = await self.run(model, latents)
        k = 1 + req.neighbors
        described = describe(model, latents[:k], True)  # the shown rows; the terms' are told as z below
        info = [{"kind": "result" if i == 0 else "neighbor"} | row for i, row in enumerate(described)]
        told = [{"weight": term.weight, "z": means[i].tolist()} for i, term in enumerate(req.terms)]
        return Frames(images[:k], info, {"terms": told, "term_images": images[k:]}, req.columns or k, model.version)

    async def sweep(self, req: SweepRequest) -> Frames:
        model = self.registry.get(req.model)
        G = model.G
        if not G.num_categories:
            raise ApiError(422, f"model {req.model!r} has no InfoGAN codes to sweep", "model")
        if req.codes is not None:
            check_codes(G, req.codes)
        if req.vary == "category":
            check_output(self.settings, G, req.rows * G.num_categories, req.format, req.columns or G.num_categories,
                         req.scale, "rows")
            grid = sweep_categories(G, req.seed, req.rows, req.codes)
        else:
            if req.vary >= G.num_continuous:
                raise ApiError(
                    422, f"vary must be 'category' or a code index below {G.num_continuous}, got {req.vary}", "vary"
                )
            check_output(self.settings, G, G.num_categories * req.steps, req.format, req.columns or req.steps,
                         req.scale, "steps")
            grid = sweep_code(G, req.seed, req.vary, req.steps, req.low, req.high, req.codes)
        images = await self.run(model, grid.latents)
        extra = {"vary": req.vary, "values": [round(v, 6) for v in grid.values],
                 "rows": len(grid.latents) // grid.columns, "columns": grid.columns}
        return Frames(images, describe(model, grid.latents, False), extra, req.columns or grid.columns,
                      model.version)

    async def encode_image(self, name: str, data: bytes) -> Encoding:
        """InfoGAN's Q on one image (any size, either polarity; prepared like MNIST's digits): read in the decoding
        pool, then Q on the torch thread (a small forward pass, queued with the batches)."""
        Q = self.registry.encoder(name)
        model = self.registry.get(name)
        mapping = model.card.get("metrics", {}).get("category_to_digit")
        device = self.runner.device
        x = await self.decoder.digit(data)

        def read() -> Encoding:
            with torch.inference_mode():
                cat_logits, codes = Q.encode(x.to(device))
            probs = cat_logits.softmax(1)[0].double().cpu()
            category = int(probs.argmax())
            digit = digit_probs = None
            if mapping and len(mapping) == len(probs):
                digit = int(mapping[category])
                digit_probs = torch.zeros(10, dtype=torch.float64).index_add_(0, torch.tensor(mapping), probs)
                digit_probs = [round(float(v), 4) for v in digit_probs]
            return Encoding(category, [round(float(v), 4) for v in probs], digit, digit_probs,
                            [round(float(v), 4) for v in codes[0].cpu()], to_uint8(x)[0], model.version)

        return await self.runner.in_torch_thread(read)
