"""The model registry: which generators (and InfoGAN encoders) the service has, loaded from the checkpoint folders
through the one validating loader (models/checkpoint.py). A broken checkpoint is listed with its reason, never
fatal; an encoder serves only beside the very generator it was made for.

    registry = Registry(settings, runner)
    registry.load_all()
    registry.get("cgan-mnist").G           # or ApiError 404 (unknown) / 503 (failed to load)
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.batching import MicroBatcher
from app.config import Settings
from app.errors import ApiError, clip
from app.runner import Runner
from app.schemas import ModelCard
from models import Generator
from models.checkpoint import load_checkpoint
from models.infogan import InfoganDiscriminator

log = logging.getLogger("gan_studio")


def public_reason(error: Exception) -> str:
    """A load error for unauthenticated clients: file names kept, the folders they live in dropped."""
    return re.sub(r"(?:[A-Za-z]:)?(?:[/\\][^\s/\\'\":]*)+[/\\]", "", str(error))


@dataclass
class LoadedModel:
    name: str
    G: Generator
    card: dict[str, Any]
    batcher: MicroBatcher

    @property
    def class_names(self) -> list[str] | None:
        return self.card.get("class_names")

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


class Registry:
    def __init__(self, settings: Settings, runner: Runner) -> None:
        self.settings, self.runner = settings, runner
        self.models: dict[str, LoadedModel] = {}
        self.unavailable: dict[str, str] = {}
        self.encoders: dict[str, tuple[InfoganDiscriminator, dict]] = {}  # generator name -> (D with Q, its card)

    def folders(self) -> list[Path]:
        folders = [Path(self.settings.checkpoint_dir)]
        if self.settings.extra_checkpoint_dir is not None:
            folders.append(Path(self.settings.extra_checkpoint_dir))
        return folders

    def load_all(self) -> None:
        """Loads every generator in the checkpoint folders; a broken one is logged and listed, never fatal."""
        for folder in self.folders():
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
                model, card = load_checkpoint(card_path, self.runner.device, within=directory)
                if isinstance(model, InfoganDiscriminator) and card.get("generator"):
                    self.encoders[card["generator"]] = (model, card)  # Q: POST /infogan/encode
                    log.info("loaded %s (InfoGAN's Q for %s) on %s", name, card["generator"], self.runner.device)
                if not isinstance(model, Generator):
                    continue  # discriminators and the evaluation classifier live beside the generators
                self.models[name] = LoadedModel(name, model, card, self.runner.prepare(name, model))
                log.info("loaded %s (%s) on %s", name, card["class_name"], self.runner.device)
            except Exception as e:  # noqa: BLE001 - any broken file is reported, the rest still serve
                self.unavailable[name] = public_reason(e)
                log.error("checkpoint %s unavailable: %s", name, e)  # the full story, paths included

    def get(self, name: str) -> LoadedModel:
        if name in self.models:
            return self.models[name]
        if name in self.unavailable:
            raise ApiError(503, f"model {name!r} failed to load: {self.unavailable[name]}", "model")
        raise ApiError(404, f"unknown model {clip(name)!r}; available: {sorted(self.models)}", "model")

    def encoder(self, name: str) -> InfoganDiscriminator:
        """The InfoGAN Q that reads images for generator ``name``."""
        self.get(name)
        if name not in self.encoders:
            raise ApiError(422, f"model {clip(name)!r} has no InfoGAN encoder (Q); models with one: "
                           f"{sorted(self.encoders)}", "model")
        return self.encoders[name][0]

    def cards(self) -> list[ModelCard]:
        return [m.public_card(m.name in self.encoders) for m in self.models.values()]

    def card(self, name: str) -> ModelCard:
        return self.get(name).public_card(name in self.encoders)

    def start(self) -> None:
        for m in self.models.values():
            m.batcher.start()

    async def stop(self) -> None:
        for m in self.models.values():
            await m.batcher.stop()
