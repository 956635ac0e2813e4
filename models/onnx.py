"""A generator as an ONNX graph, to run where torch does not: ONNX Runtime (GAN_BACKEND=onnxruntime), a browser.

    data = export_onnx(G, card)                     # the bytes of NAME.onnx (python -m training.export writes them)
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    images = session.run(None, onnx_inputs(G, G.latents_for_seeds(range(4))))[0]   # (4, 28, 28, 1) uint8

The graph takes plain arrays, one row per image (the batch axis ``n`` is dynamic), and makes the generator's
``Latents`` inside, so a CGAN's one-hot rows and their blend are part of it:

- every family: ``z`` float32 (n, z_dim);
- a CGAN: ``labels`` and ``blend_labels`` int64 (n,), ``blend`` float32 (n,);
- an InfoGAN: ``categories`` and ``blend_categories`` int64 (n,), ``codes`` float32 (n, num_continuous), ``blend``.

``blend`` is each row's weight toward its ``blend_*`` indices (0: its own label; an interpolation between two labels
in between). The output ``images`` is (n, H, W, C): uint8 exactly as ``models.images.to_uint8`` makes them, or with
``pixels="float"`` the generator's own values in [-1, 1]. The card's facts are in the file's metadata, each value
JSON (name, family, img_shape, z_dim, class_names, sha256, version, ...).
"""

from __future__ import annotations

import io
import json
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from models.checkpoint import version_of
from models.common import Generator, Latents
from models.images import pixel_tensor
from models.runtime import fold_batch_norm

OPSET = 18  # the graph's ai.onnx opset, pinned: ONNX Runtime 1.14+ and onnxruntime-web read it
BATCH = "n"  # the name of the dynamic batch axis
PIXELS = ("uint8", "float")
FLOATS = ("z", "codes", "blend")  # the float32 inputs; the others are int64 class indices


def input_names(G: Generator) -> tuple[str, ...]:
    """The graph's inputs for ``G`` in order: z, a CGAN's labels, an InfoGAN's categories and codes, the blend."""
    names = ["z"]
    if G.num_classes:
        names += ["labels", "blend_labels"]
    if G.num_categories:
        names += ["categories", "blend_categories"]
    if G.num_continuous:
        names.append("codes")
    if G.num_classes or G.num_categories:
        names.append("blend")
    return tuple(names)


def onnx_inputs(G: Generator, latents: Latents) -> dict[str, np.ndarray]:
    """The graph's feed for ``latents``: each input by name as a NumPy array. Rows without a blend get weight 0
    toward their own indices (``Latents.blended``), so plain and interpolated rows feed the one graph."""
    latents = latents.blended()
    feed = {}
    for name in input_names(G):
        value = getattr(latents, name)
        if value is None:
            raise ValueError(f"a {G.family} generator's graph needs {name}, and these latents have none")
        feed[name] = np.ascontiguousarray(value.detach().cpu().numpy(), np.float32 if name in FLOATS else np.int64)
    return feed


class PixelGraph(nn.Module):
    """``G`` between plain tensors and images: its Latents made from the inputs, its output as pixels."""

    def __init__(self, G: Generator, pixels: str) -> None:
        super().__init__()
        self.G, self.names, self.pixels = G, input_names(G), pixels

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        images = self.G(Latents(**dict(zip(self.names, inputs, strict=True))))
        return pixel_tensor(images) if self.pixels == "uint8" else images.permute(0, 2, 3, 1)


def export_onnx(G: Generator, card: dict[str, Any] | None = None, pixels: str = "uint8") -> bytes:
    """``G`` (its batch norms folded, as the service runs it) as the bytes of an ONNX file, checked by
    ``onnx.checker``; with ``card``, its facts in the metadata. The same checkpoint gives the same bytes."""
    import onnx  # the onnx extra's: only exporting needs it

    if pixels not in PIXELS:
        raise ValueError(f"pixels must be one of {PIXELS}, got {pixels!r}")
    graph = PixelGraph(fold_batch_norm(G).cpu().float(), pixels).eval()
    latents = G.latents_for_seeds([0, 1]).blended()  # two rows: a batch of one could be taken for a constant
    example = tuple(getattr(latents, name) for name in graph.names)
    with torch.no_grad():
        graph(*example)  # the one-hot identity is cached now, so every export embeds it alike (the same bytes)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript-based exporter: deprecated since torch 2.9, but exact here and some 20x faster than the
        # torch.export one (0.05-0.3 s a model against 1-4 s, and the service exports at every load), which also
        # needs onnxscript and traces with fake tensors that end up in models.common's cached identity.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(graph, example, buffer, dynamo=False, opset_version=OPSET, input_names=list(graph.names),
                          output_names=["images"], dynamic_axes={name: {0: BATCH} for name in (*graph.names, "images")})
    model = onnx.load_from_string(buffer.getvalue())
    c, h, w = G.img_shape
    for dim, size in zip(model.graph.output[0].type.tensor_type.shape.dim[1:], (h, w, c), strict=True):
        dim.dim_value = size  # the tracer leaves the MLP's reshaped sides symbolic
    for key, value in metadata(G, card, pixels).items():
        model.metadata_props.add(key=key, value=json.dumps(value))
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def metadata(G: Generator, card: dict[str, Any] | None, pixels: str) -> dict[str, Any]:
    """What a reader of the file needs to know about the model, from ``G`` and its card."""
    card = card or {}
    facts: dict[str, Any] = {"name": card.get("name"), "family": G.family, "img_shape": list(G.img_shape),
                             "z_dim": G.z_dim, "num_classes": G.num_classes, "num_categories": G.num_categories,
                             "num_continuous": G.num_continuous, "class_names": card.get("class_names"),
                             "sha256": card.get("sha256"), "version": version_of(card) if card else None,
                             "inputs": list(input_names(G)), "pixels": pixels}
    return {key: value for key, value in facts.items() if value not in (None, 0)}
