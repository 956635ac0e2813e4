"""TorchServe handler for the benchmark's TorchServe side (``python -m bench --torchserve``).

The same checkpoint served the way TorchServe's documentation shows a custom handler: TorchServe's frontend
batches requests (batch size and delay set when the model is registered), the handler draws each request's
latents from its seeds, runs one forward pass for the batch and answers each request with a PNG from Pillow.
A request body is the API's own: ``{"model": ..., "n": 1, "seed": 7}`` (n > 1 gives a grid, as the API does).
The generator runs in the precision ``TS_GAN_PRECISION`` names (float32 unless set; ``python -m bench --precision``
sets it, so that both servers do the same arithmetic).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import torch
from PIL import Image

from models import Generator, Latents
from models.checkpoint import load_checkpoint
from models.images import grid_array, to_uint8
from models.runtime import PRECISIONS


class GeneratorHandler:
    def initialize(self, context) -> None:
        model_dir = Path(context.system_properties["model_dir"])
        name = context.manifest["model"]["modelName"]
        G, _ = load_checkpoint(model_dir / name, "cpu", expected_class=Generator)
        self.dtype = PRECISIONS[os.environ.get("TS_GAN_PRECISION", "float32")]
        self.G = G.to(self.dtype)
        self.initialized = True

    @staticmethod
    def body(row: dict) -> dict:
        body = row.get("body") if row.get("body") is not None else row.get("data")
        return json.loads(body) if isinstance(body, (bytes, bytearray, str)) else body

    def handle(self, data: list[dict], context) -> list[bytes]:
        bodies = [self.body(row) for row in data]
        counts = [int(b.get("n", 1)) for b in bodies]
        latents = Latents.cat([self.G.latents_for_seeds(range(int(b.get("seed", 0)), int(b.get("seed", 0)) + n))
                               for b, n in zip(bodies, counts, strict=True)])
        with torch.inference_mode():
            images = to_uint8(self.G(latents.to("cpu", self.dtype)))
        answers, start = [], 0
        for i, n in enumerate(counts):
            picture = images[start] if n == 1 else grid_array(images[start : start + n])
            start += n
            buffer = io.BytesIO()
            Image.fromarray(picture[:, :, 0] if picture.shape[2] == 1 else picture).save(buffer, format="PNG")
            answers.append(buffer.getvalue())
            context.set_response_content_type(i, "image/png")
        return answers


_service = GeneratorHandler()


def handle(data, context):
    """TorchServe's entry point for a module handler: initialise once, then answer each batch."""
    if not getattr(_service, "initialized", False):
        _service.initialize(context)
    return None if data is None else _service.handle(data, context)
