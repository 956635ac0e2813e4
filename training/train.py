"""Training CLI for the four GAN families.

    python -m training.train --preset cgan-mnist --device auto
    python -m training.train --preset dcgan-mnist --epochs 5 --seed 1 --run-dir runs/dcgan-try
    python -m training.train --preset cgan-mnist --resume      # continue a killed run
    torchrun --nproc-per-node 2 -m training.train --preset dcgan-mnist   # DistributedDataParallel (gloo/NCCL)

Each run folder holds config.json, log.jsonl (losses), loss_curve.png, samples/epoch_NNN.png and
train_state.safetensors: weights, optimiser state, random-number states and the epoch and step in
its metadata, one file written atomically after every epoch, for --resume. Resume checks that state
against the config and cuts log.jsonl back to the saved step. The final generator (its weight
average) is exported to the run folder, or to --checkpoint-dir; replacing a checkpoint that is
already there (the shipped ones in checkpoints/) takes --overwrite.

Under torchrun every process trains its share of each batch (--batch-size stays the global batch, so a preset
means the same on any number of processes); rank 0 alone writes. See training/distributed.py.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler
from tqdm import tqdm

from models import FAMILIES, Generator
from models.checkpoint import checkpoint_paths, save_checkpoint
from models.common import Judge, Judgement
from models.files import atomic_write_bytes
from models.images import grid_array, save_grid, to_uint8
from models.runtime import available_cpus, pick_device
from training.augment import diff_augment
from training.config import PRESETS, TrainConfig
from training.data import CLASS_NAMES, DataError, load_dataset, to_unit_range
from training.dataset import read as read_dataset
from training.distributed import SINGLE_PROCESS, World, close_world, global_batch_norm, init_world
from training.plots import plot_losses


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def generator_loss(fake_logits: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "minimax":  # minimise log(1 - D(G(z))) = -softplus(logit)
        return -F.softplus(fake_logits).mean()
    return bce(fake_logits, 1.0)  # non-saturating: minimise -log D(G(z))


def info_loss(judgement: Judgement, latents: Any, cfg: TrainConfig) -> torch.Tensor:
    """InfoGAN's lower bound on the mutual information, as a loss: CE on the category, squared error on codes."""
    return cfg.lambda_cat * F.cross_entropy(judgement.cat_logits, latents.categories) + cfg.lambda_cont * F.mse_loss(
        judgement.code_means, latents.codes
    )


class Trainer:
    """Owns the networks, optimisers and the weight average; ``step`` does one G update (and k D updates).

    Under torchrun, G and D run wrapped in DistributedDataParallel (``G_net``, ``D_net``) with batch norm over
    the global batch; ``G`` and ``D`` stay the plain modules, whose state is saved and exported."""

    def __init__(self, cfg: TrainConfig, img_shape: tuple[int, int, int], device: torch.device,
                 world: World = SINGLE_PROCESS, label_counts: torch.Tensor | None = None) -> None:
        g_cls, d_cls = FAMILIES[cfg.family]
        if cfg.fake_labels not in ("uniform", "data"):
            raise ValueError(f"fake_labels must be 'uniform' or 'data', got {cfg.fake_labels!r}")
        # CGAN with fake_labels "data": G's labels drawn as often as the training set has each
        self.label_weights = (label_counts.double().cpu() if cfg.fake_labels == "data" and label_counts is not None
                              else None)
        self.cfg, self.device, self.world = cfg, device, world
        self.G: Generator = g_cls(img_shape=img_shape, **cfg.g_kwargs).to(device)
        self.D: nn.Module = d_cls(img_shape=img_shape, **cfg.d_kwargs).to(device)
        self.G_ema: Generator = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.G_net: nn.Module = self.G
        self.D_net: nn.Module = Judge(self.D)
        if world.distributed:
            self.G, self.D = global_batch_norm(self.G, device), global_batch_norm(self.D, device)
            ids = [device.index] if device.type == "cuda" else None
            # every rank's buffers are equal by construction (same seed, global-batch statistics)
            self.G_net = DistributedDataParallel(self.G, device_ids=ids, broadcast_buffers=False)
            self.D_net = DistributedDataParallel(Judge(self.D), device_ids=ids, broadcast_buffers=False)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=cfg.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=cfg.betas)
        self.ema_steps = 0
        self.d_updates = 0
        self.translating = bool(cfg.translate)  # set per epoch by set_epoch (translate_epochs)

    def set_epoch(self, epoch: int) -> None:
        """Epoch ``epoch`` (from 0) begins: D's inputs are translated while ``epoch < translate_epochs``."""
        until = self.cfg.translate_epochs
        self.translating = bool(self.cfg.translate) and (until is None or epoch < until)

    def set_lr_schedule(self, step: int, total_steps: int) -> float:
        """Both learning rates for generator step ``step`` of ``total_steps``: constant, then (with
        ``lr_decay_from`` < 1) falling linearly to zero over the run's last steps. Returns the scale."""
        start = self.cfg.lr_decay_from * total_steps
        scale = 1.0 if step < start else max(0.0, (total_steps - step) / max(1.0, total_steps - start))
        for opt, lr in ((self.opt_g, self.cfg.lr_g), (self.opt_d, self.cfg.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * scale
        return scale

    def discriminate(self, x: torch.Tensor, latents: Any) -> Judgement:
        """D's judgement of images x (through DiffAugment's translation when configured): the same call for
        every family; whatever D needs of the latents (CGAN's labels) it takes itself."""
        x = diff_augment(x, self.cfg.colour, self.cfg.translate if self.translating else 0, self.cfg.cutout,
                         self.world)
        return self.D_net(x, latents)

    def prior(self, n: int) -> Any:
        """This rank's rows of ``n`` latents drawn for the global batch (all of them in one process)."""
        latents = self.G.prior(n)
        if self.label_weights is not None and latents.labels is not None:  # every rank draws the same global batch
            latents.labels = torch.multinomial(self.label_weights, n, replacement=True)
        if self.world.distributed:
            latents = latents[slice(self.world.rank, None, self.world.size)]
        return latents.to(self.device)

    def d_step(self, real: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
        cfg, n = self.cfg, real.shape[0] * self.world.size
        real_latents = self.prior(n)
        real_latents.labels = labels  # CGAN: D sees real images with their true labels
        fake_latents = self.prior(n)
        with torch.no_grad():
            fake = self.G_net(fake_latents)
        r1 = cfg.r1_gamma > 0 and self.d_updates % cfg.r1_every == 0
        self.d_updates += 1
        if r1:
            real = real.detach().requires_grad_(True)
        real_judgement = self.discriminate(real, real_latents)
        real_logits = real_judgement.logits
        fake_judgement = self.discriminate(fake, fake_latents)
        loss = bce(real_logits, cfg.real_label) + bce(fake_judgement.logits, 0.0)
        stats = {"d_loss": loss.item(), "d_real": torch.sigmoid(real_logits).mean().item()}
        if real_judgement.class_logits is not None:  # AC-GAN's class head learns on real images only
            ce = F.cross_entropy(real_judgement.class_logits, real_latents.labels)
            loss = loss + cfg.lambda_class * ce
            stats["d_class"] = ce.item()
        if r1:  # penalise D's gradient on real digits: no steep walls for G to chase
            (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
            penalty = grad.square().flatten(1).sum(1).mean()
            loss = loss + cfg.r1_gamma / 2 * cfg.r1_every * penalty
            stats["r1"] = penalty.item()
        if fake_judgement.cat_logits is not None:  # InfoGAN: Q learns to read the codes back
            mi = info_loss(fake_judgement, fake_latents, cfg)
            loss = loss + mi
            stats["info_loss"] = mi.item()
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return stats

    def g_step(self, n: int) -> dict[str, float]:
        """One G update on ``n`` latents (the global batch; this rank computes its rows)."""
        cfg = self.cfg
        latents = self.prior(n)
        fake = self.G_net(latents)
        judgement = self.discriminate(fake, latents)
        loss = generator_loss(judgement.logits, cfg.loss)
        stats = {"g_loss": loss.item(), "d_fake": torch.sigmoid(judgement.logits).mean().item()}
        if judgement.cat_logits is not None:
            loss = loss + info_loss(judgement, latents, cfg)
        if judgement.class_logits is not None:  # G's images should read as the class asked for
            ce = F.cross_entropy(judgement.class_logits, latents.labels)
            loss = loss + cfg.lambda_class * ce
            stats["g_class"] = ce.item()
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.update_ema()
        return stats

    @torch.no_grad()
    def update_ema(self) -> None:
        self.ema_steps += 1
        # Warm-up: early on the average would be dominated by the random initial weights.
        decay = min(self.cfg.ema_decay, (1 + self.ema_steps) / (10 + self.ema_steps))
        for ema, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=False):
            ema.lerp_(p, 1.0 - decay)

    @torch.no_grad()
    def averaged_generator(self, batches: int = 20) -> Generator:
        """The weight-averaged G, its batch-norm statistics measured afresh for the averaged weights
        (G's own running statistics belong to G's weights and make the average's samples noisy)."""
        G = self.G_ema
        norms = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches
        G.train()
        gen = torch.Generator().manual_seed(0)
        for _ in range(batches if norms else 0):
            G(G.prior(self.cfg.batch_size * 4, gen).to(self.device))
        for m in norms:
            m.momentum = 0.1
        return G.eval()

    # Resume state: every tensor in one safetensors file, the rest in JSON.
    def state_tensors(self) -> dict[str, torch.Tensor]:
        tensors: dict[str, torch.Tensor] = {}
        for prefix, module in (("G", self.G), ("D", self.D), ("G_ema", self.G_ema)):
            tensors |= {f"{prefix}.{k}": v for k, v in module.state_dict().items()}
        for prefix, opt in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
            for idx, state in opt.state_dict()["state"].items():
                tensors |= {f"{prefix}.{idx}.{k}": torch.as_tensor(v) for k, v in state.items()}
        return {k: v.detach().cpu().contiguous() for k, v in tensors.items()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        for prefix, module in (("G", self.G), ("D", self.D), ("G_ema", self.G_ema)):
            module.load_state_dict({k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")})
        for prefix, opt in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
            state: dict[int, dict[str, torch.Tensor]] = {}
            for k, v in tensors.items():
                if k.startswith(prefix + "."):
                    _, idx, name = k.split(".", 2)
                    state.setdefault(int(idx), {})[name] = v
            opt.load_state_dict({"state": state, "param_groups": opt.state_dict()["param_groups"]})


def fixed_latents(G: Generator, n: int = 100) -> Any:
    """The same latents every epoch; in a grid of ten columns each row is one label (CGAN) or category (InfoGAN)."""
    return G.balanced_prior(n, torch.Generator().manual_seed(1234), repeat=10)


STATE_FILE = "train_state.safetensors"


class ResumeError(RuntimeError):
    """A run folder whose saved state cannot continue this run."""


def save_state(run_dir: Path, trainer: Trainer, meta: dict[str, Any], rng: dict[str, torch.Tensor]) -> None:
    """Everything a resume needs in one file, so it is written whole or not at all."""
    tensors = trainer.state_tensors() | {f"rng.{k}": v for k, v in rng.items()}
    atomic_write_bytes(run_dir / STATE_FILE, safetensors_bytes(tensors, metadata={"meta": json.dumps(meta)}))


def load_state(run_dir: Path, device: torch.device) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    path = run_dir / STATE_FILE
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            meta = json.loads((f.metadata() or {})["meta"])
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no iterator
    except Exception as e:  # a torn or foreign file: say which and stop, never train from it
        raise ResumeError(f"{path}: not a readable resume state ({e})") from None
    return meta, tensors


def trim_log(log_path: Path, step: int) -> None:
    """Drops the log lines of steps after ``step``: a run killed mid-epoch logged steps it will repeat."""
    if not log_path.is_file():
        atomic_write_bytes(log_path, b"")
        return
    kept = [line for line in log_path.read_text().splitlines(keepends=True)
            if line.strip() and line.endswith("\n") and json.loads(line)["step"] <= step]
    atomic_write_bytes(log_path, "".join(kept).encode())


BOARD_NAMES = {"d_loss": "loss/d", "g_loss": "loss/g", "d_real": "d/real (D(x))", "d_fake": "d/fake (D(G(z)))",
               "r1": "loss/r1", "info_loss": "loss/info"}


def board_writer(folder: Path) -> Any:
    """A TensorBoard event writer (``tensorboard --logdir runs/`` shows it); tensorboard is in the train extra."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:  # pragma: no cover - the train extra has it
        raise SystemExit(f"--tensorboard needs tensorboard: pip install -e '.[train]' ({e})") from None
    return SummaryWriter(str(folder))


def training_data(cfg: TrainConfig, data_dir: str | None) -> tuple[torch.Tensor, torch.Tensor, str, list[str] | None]:
    """``(images (N, C, H, W) uint8, labels, the data set's name, its class names)``: from a dataset made by the
    dataset tool (``cfg.data``) or one of the IDX data sets."""
    if cfg.data is None:
        images, labels = load_dataset(cfg.dataset, "train", data_dir)
        return images, labels, cfg.dataset, CLASS_NAMES.get(cfg.dataset)
    ds = read_dataset(cfg.data)
    names = ds.class_names
    if cfg.family == "cgan" and (ds.labels is None or not names or len(names) < 2):
        raise DataError(f"{cfg.data}: a conditional model needs at least two classes; this data set has "
                        f"{len(names) if names else 'no'} (make it from class sub-folders or a CSV of labels)")
    images, labels = ds.tensors()
    if labels is None:
        labels = torch.zeros(len(images), dtype=torch.long)
    return images, labels, ds.name, names


def train(cfg: TrainConfig, run_dir: Path, checkpoint_dir: Path | None, device: torch.device,
          resume: bool = False, data_dir: str | None = None, max_steps: int | None = None,
          world: World = SINGLE_PROCESS, tensorboard: Path | None = None) -> dict[str, Any]:
    """Trains one preset; returns the final checkpoint card (or the run's state when stopped early).
    Under torchrun each rank calls this with its ``world``; rank 0 alone writes."""
    main = world.is_main
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "samples").mkdir(exist_ok=True)
    images, labels, dataset_name, class_names = training_data(cfg, data_dir)
    if cfg.family == "cgan" and cfg.data is not None:  # the classes come from the data set
        cfg = dataclasses.replace(cfg, g_kwargs=cfg.g_kwargs | {"num_classes": len(class_names)},
                                  d_kwargs=cfg.d_kwargs | {"num_classes": len(class_names)})
    images = to_unit_range(images).to(device)
    labels = labels.to(device)
    torch.manual_seed(cfg.seed)
    counts = torch.bincount(labels.cpu(), minlength=len(class_names)) if cfg.family == "cgan" and class_names else None
    trainer = Trainer(cfg, tuple(images.shape[1:]), device, world, counts)
    batch = world.per_process(cfg.batch_size)
    # The global order of every epoch, this rank's rows of it (each global batch's rows rank, rank + N, ...).
    sampler = DistributedSampler(range(len(images)), num_replicas=world.size, rank=world.rank, shuffle=True,
                                 seed=cfg.seed, drop_last=True)
    start_epoch, step, elapsed = 0, 0, 0.0

    steps_per_epoch = len(sampler) // batch // cfg.d_steps
    config = dataclasses.asdict(cfg)
    if resume and (run_dir / STATE_FILE).is_file():
        meta, tensors = load_state(run_dir, device)
        start_epoch, step, elapsed = meta["epoch"], meta["step"], meta["elapsed_s"]
        # a state saved before a config field existed was made with that field's default
        defaults = json.loads(json.dumps(dataclasses.asdict(TrainConfig(cfg.name, cfg.family))))
        saved = {k: v for k, v in (defaults | meta["config"]).items() if k != "epochs"}
        if saved != {k: v for k, v in json.loads(json.dumps(config)).items() if k != "epochs"}:
            raise ResumeError(f"{run_dir}: saved with another config; start a new run folder")
        full = start_epoch * steps_per_epoch
        if step > full or (not meta["stopped_early"] and step != full):
            raise ResumeError(f"{run_dir}: inconsistent state (epoch {start_epoch}, step {step})")
        trainer.load_state_tensors({k: v for k, v in tensors.items() if not k.startswith("rng.")})
        trainer.ema_steps, trainer.d_updates = step, step * cfg.d_steps
        torch.set_rng_state(tensors["rng.torch"].cpu())
        if main:
            trim_log(run_dir / "log.jsonl", step)
            print(f"resuming {cfg.name} after epoch {start_epoch} (step {step})")
    elif main:
        atomic_write_bytes(run_dir / "log.jsonl", b"")
    distribution = {"world_size": world.size, "per_process_batch": batch}
    if main:
        atomic_write_bytes(run_dir / "config.json", json.dumps(config | distribution, indent=2).encode())

    preview = fixed_latents(trainer.G).to(device)
    log = open(run_dir / "log.jsonl", "a") if main else None
    board = board_writer(tensorboard) if main and tensorboard is not None else None
    epoch = start_epoch - 1  # a finished run, resumed, goes straight to the export
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        trainer.G.train(), trainer.D.train()
        trainer.set_epoch(epoch)
        sampler.set_epoch(epoch)
        order = torch.tensor(list(sampler), device=device)
        bar = tqdm(range(steps_per_epoch), desc=f"{cfg.name} epoch {epoch + 1}/{cfg.epochs}", leave=False,
                   disable=None if main else True)
        for i in bar:
            trainer.set_lr_schedule(step, cfg.epochs * steps_per_epoch)
            for k in range(cfg.d_steps):
                idx = order[(i * cfg.d_steps + k) * batch : (i * cfg.d_steps + k + 1) * batch]
                stats = trainer.d_step(images[idx], labels[idx])
            stats |= trainer.g_step(cfg.batch_size)
            step += 1
            if step % cfg.log_every == 0:
                stats = world.mean(stats)
                if log is not None:
                    log.write(json.dumps({"epoch": epoch + 1, "step": step} | stats) + "\n")
                if board is not None:
                    for key, value in stats.items():
                        board.add_scalar(BOARD_NAMES.get(key, f"train/{key}"), value, step)
                    board.add_scalar("lr/g", trainer.opt_g.param_groups[0]["lr"], step)
                    board.add_scalar("lr/d", trainer.opt_d.param_groups[0]["lr"], step)
                bar.set_postfix(d=f"{stats['d_loss']:.3f}", g=f"{stats['g_loss']:.3f}")
            if max_steps is not None and step >= max_steps:
                break
        stats = world.mean(stats)
        elapsed += time.perf_counter() - t0
        stopped_early = max_steps is not None and step >= max_steps
        if log is not None:
            log.flush()
            with torch.no_grad():
                grid_path = run_dir / "samples" / f"epoch_{epoch + 1:03d}.png"
                grid = trainer.averaged_generator()(preview)
                save_grid(grid, str(grid_path), columns=10)
                if board is not None:
                    board.add_image("samples (fixed seeds)", grid_array(to_uint8(grid), 10), epoch + 1,
                                    dataformats="HWC")
                    board.flush()
            save_state(run_dir, trainer, {"epoch": epoch + 1, "step": step, "elapsed_s": elapsed, "config": config,
                                          "stopped_early": stopped_early}, {"torch": torch.get_rng_state()})
            plot_losses(run_dir / "log.jsonl", run_dir / "loss_curve.png")
            print(f"{cfg.name} epoch {epoch + 1}/{cfg.epochs}: step {step}, {elapsed:.0f}s, "
                  + ", ".join(f"{k} {v:.3f}" for k, v in stats.items()), flush=True)
        if stopped_early:
            break
    if log is not None:
        log.close()
    if board is not None:
        board.close()

    card = {
        "kind": "generator",
        "dataset": dataset_name,
        **({"class_names": class_names} if class_names else {}),
        "image_size": images.shape[-1],
        "channels": images.shape[1],
        "epochs": epoch + 1,
        "steps": step,
        "seed": cfg.seed,
        "training_time_s": round(elapsed, 1),
        "device": device_description(device),
        "preset": cfg.name,
        "config": dataclasses.asdict(cfg),
        **distribution,
        "metrics": {},
    }
    if checkpoint_dir is not None and main:
        # D (with InfoGAN's Q) beside G: a feature extractor (training/features.py) and InfoGAN's encoder, which
        # the service serves only beside the very generator it was trained with (its card names G's sha256)
        g_card = save_checkpoint(trainer.averaged_generator().cpu(), checkpoint_dir / cfg.name, card)
        d_card = {k: v for k, v in card.items() if k != "metrics"} | {"kind": "discriminator", "generator": cfg.name,
                                                                       "generator_sha256": g_card["sha256"]}
        save_checkpoint(trainer.D.cpu().eval(), checkpoint_dir / f"{cfg.name}-discriminator", d_card)
        return g_card
    return card


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", required=True, choices=sorted(PRESETS))
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--dataset", help="mnist-10k (bundled, default), mnist (downloaded) or fashion-mnist")
    parser.add_argument("--data-dir", help="a folder with the IDX files, instead of the dataset's usual place")
    parser.add_argument("--data", help="a data set made by python -m training.dataset (its folder), instead of "
                        "--dataset: your own images")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    parser.add_argument("--run-dir", type=Path, help="default: runs/PRESET")
    parser.add_argument("--checkpoint-dir", type=Path, help="where to export the generator (default: the run folder)")
    parser.add_argument("--overwrite", action="store_true", help="replace a checkpoint already in --checkpoint-dir")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's last epoch")
    parser.add_argument("--tensorboard", action="store_true", help="write TensorBoard events into the run folder "
                        "(losses, D(x), D(G(z)), learning rates, a fixed-seed grid each epoch): tensorboard --logdir "
                        "runs/")
    parser.add_argument("--max-steps", type=int, help="stop after this many generator steps (smoke tests)")
    parser.add_argument("--threads", type=int, help="torch threads per process (default: this process's share "
                        "of the CPUs it may use)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                        help="override any config field, e.g. --set translate=2")
    args = parser.parse_args(argv)

    world, device_name = init_world(args.device)
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1")) if world.distributed else 1
    torch.set_num_threads(args.threads or max(1, available_cpus() // local_processes))
    cfg = PRESETS[args.preset].with_overrides(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                                              dataset=args.dataset, data=args.data)
    cfg = cfg.with_overrides(**{k: json.loads(v) for k, _, v in (item.partition("=") for item in args.set)})
    device = pick_device(device_name)
    run_dir = args.run_dir or Path("runs") / cfg.name
    export_dir = args.checkpoint_dir or run_dir
    if any(p.exists() for p in checkpoint_paths(export_dir / cfg.name)) and not args.overwrite \
            and args.checkpoint_dir is not None:
        parser.error(f"{export_dir / cfg.name} exists; pass --overwrite to replace it (or export elsewhere)")
    try:
        card = train(cfg, run_dir, export_dir, device, resume=args.resume, data_dir=args.data_dir,
                     max_steps=args.max_steps, world=world,
                     tensorboard=run_dir / "tensorboard" if args.tensorboard else None)
    finally:
        close_world(world)
    if world.is_main:
        print(f"wrote {export_dir / cfg.name}.safetensors ({card['training_time_s']}s on {card['device']}"
              + (f", {world.size} processes" if world.distributed else "") + ")")


if __name__ == "__main__":
    main()
