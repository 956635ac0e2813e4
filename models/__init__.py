"""Model families and the registry that training, checkpoint loading and the service go through."""

from torch import nn

from models.cgan import CganDiscriminator, CganGenerator
from models.classifier import DigitClassifier
from models.common import Discriminator, Generator, Judgement, Latents
from models.dcgan import DcganDiscriminator, DcganGenerator
from models.gan import GanDiscriminator, GanGenerator
from models.infogan import InfoganDiscriminator, InfoganGenerator

# family -> (generator class, discriminator class)
FAMILIES: dict[str, tuple[type[Generator], type[Discriminator]]] = {
    "gan": (GanGenerator, GanDiscriminator),
    "dcgan": (DcganGenerator, DcganDiscriminator),
    "cgan": (CganGenerator, CganDiscriminator),
    "infogan": (InfoganGenerator, InfoganDiscriminator),
}

# Every class a checkpoint may name; the loader builds nothing else.
MODEL_CLASSES: dict[str, type[nn.Module]] = {
    cls.__name__: cls for pair in FAMILIES.values() for cls in pair
} | {DigitClassifier.__name__: DigitClassifier}

__all__ = ["FAMILIES", "MODEL_CLASSES", "DigitClassifier", "Discriminator", "Generator", "Judgement", "Latents"]
