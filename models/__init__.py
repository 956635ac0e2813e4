"""Model families and the registry that training, checkpoint loading and the service go through.

The names below load on first use (PEP 562), so that ``models.files`` (the one atomic write) and the other
torch-free helpers import without torch: the dataset tool's worker processes never load it.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["FAMILIES", "MODEL_CLASSES", "DigitClassifier", "Discriminator", "Generator", "Judgement", "Latents"]
_FROM = {"DigitClassifier": "models.classifier", "Discriminator": "models.common", "Generator": "models.common",
         "Judgement": "models.common", "Latents": "models.common"}


def _registry() -> dict[str, Any]:
    from models.cgan import CganDiscriminator, CganGenerator
    from models.classifier import DigitClassifier
    from models.dcgan import DcganDiscriminator, DcganGenerator
    from models.gan import GanDiscriminator, GanGenerator
    from models.infogan import InfoganDiscriminator, InfoganGenerator

    # family -> (generator class, discriminator class)
    families = {
        "gan": (GanGenerator, GanDiscriminator),
        "dcgan": (DcganGenerator, DcganDiscriminator),
        "cgan": (CganGenerator, CganDiscriminator),
        "infogan": (InfoganGenerator, InfoganDiscriminator),
    }
    # Every class a checkpoint may name; the loader builds nothing else.
    classes = {cls.__name__: cls for pair in families.values() for cls in pair} | {
        DigitClassifier.__name__: DigitClassifier}
    return {"FAMILIES": families, "MODEL_CLASSES": classes}


def __getattr__(name: str) -> Any:
    if name in ("FAMILIES", "MODEL_CLASSES"):
        globals().update(_registry())
        return globals()[name]
    if name in _FROM:
        value = getattr(importlib.import_module(_FROM[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'models' has no attribute {name!r}")
