"""The model registry: which generators (and InfoGAN encoders) the service has, from the checkpoint folders, through
the one validating loader (models/checkpoint.py), and how they change while the service runs.

A model's version is its weights' sha256. ``reload`` rereads the folders: a checkpoint whose files changed is loaded
and warmed up beside the version serving, and swapped in only once it validated (a broken one is refused, the old
one keeps serving, and the reason is kept for /readyz); a checkpoint whose files are gone stops being served.
Requests already holding a version finish on it: each version has its own micro-batcher, closed once its last
accepted request is answered, so no forward pass mixes two versions.

    registry = Registry(settings, runner)
    registry.load_all()                    # at start (reload() does the same later, from the watcher or admin)
    registry.get("cgan-mnist").G           # or ApiError 404 (unknown) / 503 (failed to load)
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.batching import MicroBatcher
from app.config import Settings
from app.errors import ApiError, clip
from app.runner import Runner
from app.schemas import ModelCard, ReloadReport
from models import Generator
from models.checkpoint import checkpoint_paths, load_checkpoint, pending_card_path, version_of
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
    version: str = ""
    loaded_at: float = field(default_factory=time.time)

    @property
    def class_names(self) -> list[str] | None:
        return self.card.get("class_names")

    def public_card(self, encoder: bool = False, refused: str | None = None) -> ModelCard:
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
            version=self.version,
            loaded_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.loaded_at)),
            refused=refused,
        )


@dataclass
class Encoder:
    """An InfoGAN discriminator whose Q reads images for generator ``generator``."""

    name: str
    D: InfoganDiscriminator
    card: dict[str, Any]
    generator: str


FileState = tuple[tuple[int, int, int] | None, ...]


def file_state(card_path: Path) -> FileState:
    """What tells that a checkpoint's files changed: each file's inode, size and modification time."""
    weights, card = checkpoint_paths(card_path)

    def stat(path: Path) -> tuple[int, int, int] | None:
        try:
            s = path.stat()
        except OSError:
            return None
        return (s.st_ino, s.st_size, s.st_mtime_ns)

    return (stat(weights), stat(card), stat(pending_card_path(card)))


class Registry:
    def __init__(self, settings: Settings, runner: Runner,
                 on_reload: Callable[[str, str, str | None], None] | None = None) -> None:
        """``on_reload(model, outcome, version)`` is told of every change: loaded, refused or removed."""
        self.settings, self.runner, self.on_reload = settings, runner, on_reload
        self.models: dict[str, LoadedModel] = {}
        self.unavailable: dict[str, str] = {}  # never loaded (or its encoder cannot serve): name -> why
        self.refused: dict[str, str] = {}  # a newer version refused while the old one serves: name -> why
        self.candidates: dict[str, Encoder] = {}  # every loaded InfoGAN D with a Q, by its own name
        self.encoders: dict[str, tuple[InfoganDiscriminator, dict]] = {}  # generator name -> (D, card): serving
        self.seen: dict[str, FileState] = {}  # each checkpoint's files as last read
        self.started = False
        self.lock = asyncio.Lock()
        self.retiring: dict[asyncio.Task, MicroBatcher] = {}  # replaced versions' batchers, closing

    def folders(self) -> list[Path]:
        folders = [Path(self.settings.checkpoint_dir)]
        if self.settings.extra_checkpoint_dir is not None:
            folders.append(Path(self.settings.extra_checkpoint_dir))
        return folders

    def scan(self) -> dict[str, tuple[Path, Path]]:
        """Every checkpoint in the folders, ``name -> (folder, card path)``; a name in both, the later folder's.
        A weights file without a card is listed too (it is reported, not loaded)."""
        found: dict[str, tuple[Path, Path]] = {}
        for folder in self.folders():
            if not folder.is_dir():
                continue
            stems = {p.name.removesuffix(".json") for p in folder.glob("*.json")}
            stems |= {p.name.removesuffix(".safetensors") for p in folder.glob("*.safetensors")}
            for stem in sorted(stems):
                found[stem] = (folder, folder / f"{stem}.json")
        return found

    # --- loading --------------------------------------------------------------------------------
    def attempt(self, name: str, folder: Path, card_path: Path) -> LoadedModel | Encoder | None:
        """Loads and validates one checkpoint, and warms a generator up (blocking); None for a file that is
        neither a generator nor an encoder (the evaluation classifier). Raises what is wrong."""
        if not card_path.exists() and checkpoint_paths(card_path)[0].exists():
            raise FileNotFoundError(f"{card_path.name} is missing beside {name}.safetensors")
        model, card = load_checkpoint(card_path, self.runner.device, within=folder)
        if card.get("name") not in (None, name):  # another model's files copied over this one's
            raise ValueError(f"{name}.json names the model {clip(str(card['name']))!r}, not {name!r}: publish a "
                             f"checkpoint under its own name (or set its card's \"name\" to {name!r})")
        if isinstance(model, InfoganDiscriminator) and card.get("generator"):
            return Encoder(name, model, card, card["generator"])
        if not isinstance(model, Generator):
            return None
        return LoadedModel(name, model, card, self.runner.prepare(name, model), version_of(card))

    def install(self, name: str, result: LoadedModel | Encoder | None, report: ReloadReport) -> None:
        self.refused.pop(name, None)
        self.unavailable.pop(name, None)
        if not isinstance(result, LoadedModel) and name in self.models:  # no longer a generator
            self.retire(self.models.pop(name))
        if not isinstance(result, Encoder):
            self.candidates.pop(name, None)
        if isinstance(result, Encoder):
            self.candidates[name] = result
            log.info("loaded %s (InfoGAN's Q for %s) on %s", name, result.generator, self.runner.device)
        elif isinstance(result, LoadedModel):
            old = self.models.get(name)
            self.models[name] = result
            if self.started:
                result.batcher.start()
            if old is not None:
                self.retire(old)
            log.info("loaded %s version %s (%s) on %s", name, result.version, result.card["class_name"],
                     self.runner.device)
            report.loaded[name] = result.version
            self.notify(name, "loaded", result.version)

    def refuse(self, name: str, error: Exception, report: ReloadReport) -> None:
        reason = public_reason(error)
        serving = self.models.get(name) or self.candidates.get(name)
        if serving is not None:
            self.refused[name] = reason
            log.error("a new version of %s was refused (version %s keeps serving): %s", name,
                      getattr(serving, "version", "-"), error)
        else:
            self.unavailable[name] = reason
            log.error("checkpoint %s unavailable: %s", name, error)  # the full story, paths included
        report.refused[name] = reason
        self.notify(name, "refused", None)

    def remove(self, name: str, report: ReloadReport) -> None:
        old = self.models.pop(name, None)
        self.candidates.pop(name, None)
        self.unavailable.pop(name, None)
        self.refused.pop(name, None)
        self.seen.pop(name, None)
        if old is not None:
            self.retire(old)
            log.warning("%s removed: no longer served", name)
            report.removed.append(name)
            self.notify(name, "removed", None)

    def retire(self, old: LoadedModel) -> None:
        """The replaced version's batcher stops once its accepted requests are answered; then it is gone."""
        if not self.started:
            return
        task = asyncio.get_running_loop().create_task(old.batcher.close())
        self.retiring[task] = old.batcher
        task.add_done_callback(lambda done: self.retiring.pop(done, None))

    def notify(self, name: str, outcome: str, version: str | None) -> None:
        if self.on_reload is not None:
            self.on_reload(name, outcome, version)

    def changed(self, only: str | None = None) -> tuple[dict[str, tuple[Path, Path]], list[str]]:
        """The checkpoints whose files differ from when they were last read, and the names whose files are gone."""
        found = self.scan()
        if only is not None:
            found = {k: v for k, v in found.items() if k == only}
        todo = {name: where for name, where in found.items() if self.seen.get(name) != file_state(where[1])}
        known = set(self.models) | set(self.candidates) | set(self.unavailable) | set(self.seen)
        gone = [name for name in sorted(known) if name not in found and (only is None or name == only)]
        return todo, gone

    def load_all(self) -> ReloadReport:
        """The first reading of the folders, before serving (blocking)."""
        report = ReloadReport()
        todo, _ = self.changed()
        for name, (folder, card_path) in todo.items():
            self.seen[name] = file_state(card_path)
            try:
                self.install(name, self.attempt(name, folder, card_path), report)
            except Exception as e:  # noqa: BLE001 - any broken file is reported, the rest still serve
                self.refuse(name, e, report)
        self.check_encoders()
        for folder in self.folders():
            if not folder.is_dir():
                log.warning("checkpoint folder %s not found", folder)
        return report

    async def reload(self, only: str | None = None) -> ReloadReport:
        """Rereads the folders (or one checkpoint): what changed is loaded beside what serves and swapped in when
        it validated, what is gone is removed. One reload at a time."""
        async with self.lock:
            report = ReloadReport()
            todo, gone = self.changed(only)
            for name, (folder, card_path) in todo.items():
                self.seen[name] = state = file_state(card_path)
                try:
                    result = await asyncio.to_thread(self.attempt, name, folder, card_path)
                except Exception as e:  # noqa: BLE001 - refused; the version serving (if any) keeps serving
                    self.refuse(name, e, report)
                    continue
                if file_state(card_path) != state:  # written again while it loaded: the next round takes it
                    self.seen.pop(name, None)
                    continue
                self.install(name, result, report)
                self.check_encoders()  # at once: no answer pairs a new generator with an encoder made for another
            for name in gone:
                self.remove(name, report)
            self.check_encoders()
            report.unchanged = sorted(set(self.models) - set(report.loaded))
            return report

    def check_encoders(self) -> None:
        """An encoder serves only beside the very generator it was made for (its card names the sha256)."""
        self.encoders = {}
        for d_name, enc in self.candidates.items():
            expected = enc.card.get("generator_sha256")
            model = self.models.get(enc.generator)
            if model is None:
                self.unavailable[d_name] = f"its generator {enc.generator} is not loaded"
            elif expected and expected != model.card.get("sha256"):
                self.unavailable[d_name] = (f"made for {enc.generator} with sha256 {str(expected)[:12]}..., which is "
                                            "not the one loaded")
            else:
                self.unavailable.pop(d_name, None)
                self.encoders[enc.generator] = (enc.D, enc.card)

    # --- lookup -------------------------------------------------------------------------------
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
        return [self.card(name) for name in self.models]

    def card(self, name: str) -> ModelCard:
        return self.get(name).public_card(name in self.encoders, self.refused.get(name))

    def start(self) -> None:
        self.started = True
        for m in self.models.values():
            m.batcher.start()

    async def stop(self) -> None:
        self.started = False
        for m in self.models.values():
            await m.batcher.stop()
        for task, batcher in list(self.retiring.items()):
            task.cancel()
            await batcher.stop()
