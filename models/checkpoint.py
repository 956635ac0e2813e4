"""The one checkpoint format and its validating loader: safetensors weights plus a JSON card.

    save_checkpoint(G, "runs/cgan-mnist/cgan-mnist", {"dataset": "mnist-10k", ...})
    G, card = load_checkpoint("checkpoints/cgan-mnist")   # eval mode, gradients off

Nothing here unpickles or imports anything named by a file: the card's class name must be in the
registry, and the weights must match that class's parameters name for name and shape for shape.

Replacing a checkpoint is one atomic unit even though it is two files: the new card is written first as
``NAME.json.pending`` (it names the new weights' sha256), then the new weights replace the old, then the
pending card replaces the old card. A process killed between any two of these steps leaves either the
old pair, or the new weights with the pending card that vouches for them, which the loader takes.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as tensors_from_bytes
from safetensors.torch import save as safetensors_bytes
from torch import nn

from models import MODEL_CLASSES
from models.files import atomic_rename, atomic_write_bytes

FORMAT_VERSION = 1
VERSION_CHARS = 12  # of the sha256: a model's version (X-Model-Version, the service's cards, an export's metadata)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and what is wrong."""


def checkpoint_paths(path: str | Path) -> tuple[Path, Path]:
    """``(weights, card)`` for a path given with or without its extension."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def constructor_args(model: nn.Module) -> dict[str, Any]:
    """The constructor arguments of ``model``, read back from the attributes it keeps them in."""
    params = [p for p in inspect.signature(type(model).__init__).parameters if p != "self"]
    return {p: list(v) if isinstance(v := getattr(model, p), tuple) else v for p in params}


def version_of(card: dict[str, Any]) -> str:
    """A model's version: its weights' sha256, the first VERSION_CHARS characters ("unversioned" without one)."""
    return str(card.get("sha256") or "unversioned")[:VERSION_CHARS]


def pending_card_path(card_path: Path) -> Path:
    return card_path.with_name(card_path.name + ".pending")


WEIGHT_DTYPES = {"float32": torch.float32, "float16": torch.float16}


def save_checkpoint(model: nn.Module, path: str | Path, card: dict[str, Any],
                    weights_dtype: str = "float32") -> dict[str, Any]:
    """Writes ``path``.safetensors and ``path``.json as one atomic unit (see above); returns the full card.

    ``weights_dtype`` float16 stores the floating-point tensors in half the bytes (a 64-pixel colour generator: 7 MB
    instead of 14); loading casts them back into the model's float32 parameters, so it computes as before."""
    weights_path, card_path = checkpoint_paths(path)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    dtype = WEIGHT_DTYPES[weights_dtype]
    tensors = {k: (v.to(dtype) if v.is_floating_point() else v).detach().cpu().contiguous()
               for k, v in model.state_dict().items()}
    data = safetensors_bytes(tensors, metadata={"format_version": str(FORMAT_VERSION)})
    full = {
        "name": weights_path.name.removesuffix(".safetensors"),
        "format_version": FORMAT_VERSION,
        "class_name": type(model).__name__,
        "family": getattr(model, "family", None),
        "kwargs": constructor_args(model),
        **card,
        **({"weights_dtype": weights_dtype} if weights_dtype != "float32" else {}),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    pending = pending_card_path(card_path)
    atomic_write_bytes(pending, (json.dumps(full, indent=2) + "\n").encode())
    atomic_write_bytes(weights_path, data)
    atomic_rename(pending, card_path)
    return full


def update_card(path: str | Path, **fields: Any) -> dict[str, Any]:
    """Merges ``fields`` into an existing card (used by evaluation to record metrics)."""
    _, card_path = checkpoint_paths(path)
    card = json.loads(card_path.read_text()) | fields
    atomic_write_bytes(card_path, (json.dumps(card, indent=2) + "\n").encode())
    return card


def read_card(path: str | Path) -> dict[str, Any]:
    """Reads and checks a card without touching the weights."""
    _, card_path = checkpoint_paths(path)
    return read_card_file(card_path)


def read_card_file(card_path: Path) -> dict[str, Any]:
    try:
        card = json.loads(card_path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{card_path}: card file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{card_path}: card is not valid JSON ({e})") from None
    if not isinstance(card, dict):
        raise CheckpointError(f"{card_path}: card must be a JSON object")
    if card.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{card_path}: format_version {card.get('format_version')!r}, this loader reads {FORMAT_VERSION}"
        )
    if card.get("class_name") not in MODEL_CLASSES:
        raise CheckpointError(
            f"{card_path}: unknown class_name {card.get('class_name')!r}; known: {sorted(MODEL_CLASSES)}"
        )
    if not isinstance(card.get("kwargs"), dict):
        raise CheckpointError(f"{card_path}: 'kwargs' must be an object of constructor arguments")
    return card


def check_inside(path: Path, folder: Path) -> None:
    """Refuses a file that is, or sits behind, a link leading out of ``folder`` (a card or weights that
    point at some other file of the machine must not be read and served)."""
    if path.exists() and not path.resolve().is_relative_to(folder.resolve()):
        raise CheckpointError(f"{path}: a symbolic link to a file outside the checkpoint folder (refused)")


def finished_replacement(card_path: Path, digest: str) -> dict[str, Any] | None:
    """The pending card of a replacement stopped after its new weights were in place, if it vouches for them."""
    pending = pending_card_path(card_path)
    if not pending.is_file():
        return None
    try:
        card = read_card_file(pending)
    except CheckpointError:
        return None
    return card if card.get("sha256") == digest else None


def load_checkpoint(
    path: str | Path, device: torch.device | str = "cpu", expected_class: type[nn.Module] | None = None,
    within: Path | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Builds the model the card names, loads and checks its weights; returns ``(model, card)``.

    With ``within``, both files must resolve to files inside that folder (links leading out are refused).
    """
    weights_path, card_path = checkpoint_paths(path)
    if within is not None:
        check_inside(card_path, within)
        check_inside(weights_path, within)
    card = read_card(path)
    if not weights_path.is_file():
        raise CheckpointError(f"{weights_path}: weights file not found")
    data = weights_path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if "sha256" in card and digest != card["sha256"]:
        card = finished_replacement(card_path, digest)
        if card is None:
            raise CheckpointError(f"{weights_path}: sha256 does not match the card (corrupt or replaced file)")
    cls = MODEL_CLASSES[card["class_name"]]
    if expected_class is not None and not issubclass(cls, expected_class):
        raise CheckpointError(f"{card_path}: holds a {cls.__name__}, expected a {expected_class.__name__}")
    try:
        model = cls(**card["kwargs"])
    except (TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{card_path}: constructor arguments do not fit {cls.__name__} ({e})") from None

    try:
        tensors = tensors_from_bytes(data)  # the bytes whose hash was checked, not a second read
    except Exception as e:  # safetensors raises its own error types for truncated or garbled files
        raise CheckpointError(f"{weights_path}: unreadable safetensors file ({e})") from None

    expected = model.state_dict()
    missing = sorted(expected.keys() - tensors.keys())
    unexpected = sorted(tensors.keys() - expected.keys())
    wrong = [
        f"{k} {tuple(tensors[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in tensors and tensors[k].shape != v.shape
    ]
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"{weights_path}: weights do not match {cls.__name__}: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}, wrong shapes {wrong[:5]}"
        )
    non_finite = [k for k, t in tensors.items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if non_finite:
        raise CheckpointError(f"{weights_path}: non-finite values in {non_finite[:5]}")
    check_class_names(card, getattr(model, "num_classes", 0), card_path)
    model.load_state_dict(tensors)
    model.to(device).eval().requires_grad_(False)
    return model, card


def check_class_names(card: dict[str, Any], num_classes: int, card_path: Path) -> None:
    """``class_names``, when a card has them: distinct, non-empty names of at most 64 characters, one per class
    of a class-conditional model (an unconditional one's card may name its dataset's classes)."""
    names = card.get("class_names")
    if names is None:
        return
    if not (isinstance(names, list) and all(isinstance(n, str) and 0 < len(n) <= 64 for n in names)):
        raise CheckpointError(f"{card_path}: 'class_names' must be a list of names of 1 to 64 characters")
    if num_classes and len(names) != num_classes:
        raise CheckpointError(f"{card_path}: {len(names)} class_names for {num_classes} classes")
    if len({n.casefold() for n in names}) != len(names):
        raise CheckpointError(f"{card_path}: 'class_names' repeats a name")
