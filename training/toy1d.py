"""How a GAN learns, in one dimension: Goodfellow et al. (2014), figure 1, trained for real.

    python -m training.toy1d --out docs/toy1d                    # a Gaussian, the non-saturating loss
    python -m training.toy1d --out runs/toy1d-mix --data mixture --loss minimax --k 5

A generator G (a small MLP from z ~ N(0, 1) to x) learns a 1-D data distribution against a discriminator D,
with k D-steps per G step (the paper's algorithm 1). Snapshots on a grid of x record the data density, G's
density p_g (a Gaussian kernel density estimate of 20,000 of G's samples), D(x), and the optimal discriminator
for that G, D*(x) = p_data(x) / (p_data(x) + p_g(x)). Written to OUT/toy1d.json
(``{"snapshots": [{"step", "x", "p_data", "p_g", "d", "d_star"}, ...], "panels": {...}}``, the last snapshot the
end of training) and OUT/toy1d.png, the paper's four panels: (a) G and D part-way, (b) D trained to its optimum
with G held still (D approaches D*), (c) G after some steps against that D, moved towards the data,
(d) the end: p_g = p_data and D = 1/2.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from scipy.stats import gaussian_kde, wasserstein_distance
from torch import nn

from models.files import atomic_write_bytes


@dataclass
class Toy1dConfig:
    data: str = "gaussian"  # gaussian: N(4, 0.5); mixture: two modes, N(2, 0.4) and N(6, 0.4), equal weights
    loss: str = "non-saturating"  # G's loss: non-saturating (-log D(G(z))) or minimax (log(1 - D(G(z))))
    k: int = 5  # D steps per G step
    steps: int = 3000  # G steps
    batch: int = 256
    lr: float = 1e-3  # with k = 5 and the decay: W1 about 0.02 sigma at the end (2e-4: 0.9 sigma)
    hidden: int = 32
    d_hidden: int = 64
    decay: bool = True  # learning rates fall linearly to a tenth: the players settle instead of circling
    g_start: float = -2.0  # where G's samples begin (away from the data, as in the paper's panels)
    g_scale: float = 0.1  # G's last layer scaled by this at the start: how spread out its first samples are
    snapshot_every: int = 100
    seed: int = 0


def data_density(cfg: Toy1dConfig, x: np.ndarray) -> np.ndarray:
    def normal(mu: float, sigma: float) -> np.ndarray:
        return np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))

    if cfg.data == "gaussian":
        return normal(4.0, 0.5)
    return 0.5 * normal(2.0, 0.4) + 0.5 * normal(6.0, 0.4)


def sample_data(cfg: Toy1dConfig, n: int, gen: torch.Generator) -> torch.Tensor:
    if cfg.data == "gaussian":
        return 4.0 + 0.5 * torch.randn(n, 1, generator=gen)
    mode = torch.randint(2, (n, 1), generator=gen).float()
    return 2.0 + 4.0 * mode + 0.4 * torch.randn(n, 1, generator=gen)


def data_spread(cfg: Toy1dConfig) -> tuple[float, float]:
    """Mean and standard deviation of the data distribution."""
    return (4.0, 0.5) if cfg.data == "gaussian" else (4.0, math.sqrt(0.4**2 + 2.0**2))


def mlp(hidden: int, activation: type[nn.Module] = nn.LeakyReLU) -> nn.Sequential:
    return nn.Sequential(nn.Linear(1, hidden), activation(), nn.Linear(hidden, hidden), activation(),
                         nn.Linear(hidden, 1))


class Toy1d:
    """G, D, their optimisers and the random streams; ``d_step`` and ``g_step`` are the paper's algorithm 1."""

    def __init__(self, cfg: Toy1dConfig) -> None:
        torch.manual_seed(cfg.seed)
        self.cfg = cfg
        self.G = mlp(cfg.hidden, nn.Tanh)  # smooth: a piecewise-linear G would give p_g kinks and spikes
        self.D = mlp(cfg.d_hidden)
        with torch.no_grad():  # G starts as a narrow bump at g_start, away from the data
            self.G[-1].weight.mul_(cfg.g_scale)
            self.G[-1].bias.fill_(cfg.g_start)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
        self.gen = torch.Generator().manual_seed(cfg.seed)
        schedule = (lambda step: 1.0 - 0.9 * min(step / cfg.steps, 1.0)) if cfg.decay else (lambda step: 1.0)
        self.schedules = [torch.optim.lr_scheduler.LambdaLR(opt, schedule) for opt in (self.opt_g, self.opt_d)]

    def z(self, n: int) -> torch.Tensor:
        return torch.randn(n, 1, generator=self.gen)

    def d_step(self) -> float:
        real = sample_data(self.cfg, self.cfg.batch, self.gen)
        with torch.no_grad():
            fake = self.G(self.z(self.cfg.batch))
        real_logits, fake_logits = self.D(real), self.D(fake)
        loss = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return loss.item()

    def g_step(self) -> float:
        logits = self.D(self.G(self.z(self.cfg.batch)))
        if self.cfg.loss == "minimax":  # minimise log(1 - D(G(z))) = -softplus(logit)
            loss = -F.softplus(logits).mean()
        else:  # non-saturating: minimise -log D(G(z))
            loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        for schedule in self.schedules:  # one schedule step per G step, for both players
            schedule.step()
        return loss.item()

    def train_d_to_optimum(self, steps: int = 2000) -> None:
        """D alone, G held still: D approaches D* for this G (panel b)."""
        for _ in range(steps):
            self.d_step()

    @torch.no_grad()
    def samples(self, n: int = 20000) -> np.ndarray:
        return self.G(torch.randn(n, 1, generator=torch.Generator().manual_seed(12345))).squeeze(1).numpy()

    @torch.no_grad()
    def snapshot(self, step: int, grid: np.ndarray) -> dict[str, Any]:
        p_data = data_density(self.cfg, grid)
        p_g = generator_density(self.samples(), grid)
        d = torch.sigmoid(self.D(torch.from_numpy(grid).float().unsqueeze(1))).squeeze(1).numpy()
        d_star = optimal_discriminator(p_data, p_g)
        rounded = lambda a: [None if np.isnan(v) else round(float(v), 5) for v in a]  # noqa: E731
        return {"step": step, "x": rounded(grid), "p_data": rounded(p_data), "p_g": rounded(p_g), "d": rounded(d),
                "d_star": rounded(d_star)}


def generator_density(samples: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """p_g on the grid: a Gaussian kernel density estimate (Scott's bandwidth) of G's samples."""
    if np.std(samples) < 1e-6:  # a collapsed G: all its mass in one point, drawn as a narrow spike
        samples = samples + np.random.default_rng(0).normal(0, 1e-3, samples.shape)
    return gaussian_kde(samples)(grid)


def optimal_discriminator(p_data: np.ndarray, p_g: np.ndarray) -> np.ndarray:
    """D*(x) = p_data / (p_data + p_g) (Goodfellow et al., proposition 1); NaN where neither distribution has
    mass (under a thousandth of the larger peak), where D* is undefined and any D is optimal."""
    total = p_data + p_g
    defined = total > 1e-3 * max(p_data.max(), p_g.max())
    return np.where(defined, p_data / np.maximum(total, 1e-300), np.nan)


def train_toy1d(cfg: Toy1dConfig, grid_points: int = 161) -> dict[str, Any]:
    """Trains and returns ``{"config", "snapshots", "panels"}`` (panels: the figure's four states)."""
    model = Toy1d(cfg)
    grid = np.linspace(-3.0, 9.0, grid_points)
    snapshots, panels = [model.snapshot(0, grid)], {}
    panel_step = max(1, cfg.steps // 60)  # panels (a) to (c): G on its way to the data (it arrives by ~ step 150)
    for step in range(1, cfg.steps + 1):
        for _ in range(cfg.k):
            model.d_step()
        model.g_step()
        if step == panel_step:
            panels["a"] = model.snapshot(step, grid)
            branch = copy.deepcopy(model)  # the paper's (b) and (c) on a copy: training goes on unchanged
            branch.gen = torch.Generator().manual_seed(cfg.seed + 1)  # its own random stream, not the run's
            branch.train_d_to_optimum()
            panels["b"] = branch.snapshot(step, grid)
            for _ in range(max(1, cfg.steps // 100)):
                branch.g_step()
            panels["c"] = branch.snapshot(step + max(1, cfg.steps // 100), grid)
        if step % cfg.snapshot_every == 0 or step == cfg.steps:
            snapshots.append(model.snapshot(step, grid))
    panels["d"] = snapshots[-1]
    return {"config": asdict(cfg), "snapshots": snapshots, "panels": panels, "model": model}


# The figure, in the paper's colours: data black dots, p_g green, D blue dashes, D* grey.
COLOURS = {"p_data": (0, 0, 0), "p_g": (34, 139, 34), "d": (30, 90, 220), "d_star": (150, 150, 150)}
TITLES = {"a": "(a) part-way", "b": "(b) D trained to D*", "c": "(c) after G steps", "d": "(d) the end: D = 1/2"}


def draw_panel(draw: ImageDraw.ImageDraw, snap: dict[str, Any], box: tuple[int, int, int, int], title: str) -> None:
    left, top, right, bottom = box
    x = np.array(snap["x"])
    peak = max(max(snap["p_data"]), 1e-9) * 1.15
    to_px = lambda xs, ys, scale: [  # noqa: E731
        (left + (a - x[0]) / (x[-1] - x[0]) * (right - left), bottom - b / scale * (bottom - top))
        for a, b in zip(xs, ys, strict=True)]
    draw.rectangle(box, outline=(200, 200, 200))
    half = bottom - 0.5 * (bottom - top)
    draw.line([(left, half), (right, half)], fill=(225, 225, 225))
    run: list[tuple[float, float]] = []
    for a, b in [*zip(x, snap["d_star"], strict=True), (None, None)]:  # D* only where it is defined
        if b is not None:
            run.append((a, b))
        elif run:
            draw.line(to_px(*zip(*run, strict=True), 1.0) if len(run) > 1 else [], fill=COLOURS["d_star"], width=1)
            run = []
    pts = to_px(x, snap["d"], 1.0)
    for i in range(0, len(pts) - 1, 2):  # dashed
        draw.line(pts[i : i + 2], fill=COLOURS["d"], width=2)
    draw.line(to_px(x, np.minimum(snap["p_g"], peak), peak), fill=COLOURS["p_g"], width=2)
    for px, py in to_px(x, snap["p_data"], peak)[::3]:
        draw.ellipse([px - 1.5, py - 1.5, px + 1.5, py + 1.5], fill=COLOURS["p_data"])
    draw.text((left + 6, top + 4), f"{title}, step {snap['step']}", fill=(0, 0, 0))


def save_figure(result: dict[str, Any], path: Path, panel_size: tuple[int, int] = (320, 220)) -> None:
    w, h = panel_size
    img = Image.new("RGB", (4 * w + 50, h + 60), "white")
    draw = ImageDraw.Draw(img)
    for i, key in enumerate("abcd"):
        draw_panel(draw, result["panels"][key], (10 + i * (w + 10), 10, 10 + i * (w + 10) + w, 10 + h), TITLES[key])
    legend = [("data density", "p_data"), ("G's density p_g", "p_g"), ("D(x)", "d"), ("D*(x)", "d_star")]
    for i, (label, key) in enumerate(legend):
        x0 = 10 + i * 200
        draw.line([(x0, h + 35), (x0 + 30, h + 35)], fill=COLOURS[key], width=3)
        draw.text((x0 + 36, h + 29), label, fill=(0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    atomic_write_bytes(path, buf.getvalue())


def write_outputs(result: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    doc = {k: result[k] for k in ("config", "snapshots", "panels")}
    atomic_write_bytes(out / "toy1d.json", json.dumps(doc, separators=(",", ":")).encode())
    save_figure(result, out / "toy1d.png")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", choices=["gaussian", "mixture"], default="gaussian")
    parser.add_argument("--loss", choices=["non-saturating", "minimax"], default="non-saturating")
    parser.add_argument("--k", type=int, default=Toy1dConfig.k, help="D steps per G step")
    parser.add_argument("--steps", type=int, default=Toy1dConfig.steps)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cfg = Toy1dConfig(data=args.data, loss=args.loss, k=args.k, steps=args.steps, seed=args.seed)
    result = train_toy1d(cfg)
    write_outputs(result, args.out)
    end = result["snapshots"][-1]
    mean, std = data_spread(cfg)
    w1 = wasserstein_distance(result["model"].samples(), sample_data(cfg, 20000, torch.Generator().manual_seed(1))
                              .squeeze(1).numpy())
    print(f"wrote {args.out}/toy1d.json and toy1d.png; at step {end['step']}: D on the data's central 95% in "
          f"[{min(central(end)):.3f}, {max(central(end)):.3f}], W1(G, data) = {w1:.4f} ({w1 / std:.3f} sigma)")


CENTRAL_95 = math.exp(-(1.96**2) / 2)  # a Gaussian's density at 1.96 sigma, over its peak


def central(snap: dict[str, Any]) -> list[float]:
    """D's values over the data's central 95%: within 1.96 sigma of the Gaussian's mean (of each mode's, for
    the mixture, whose modes barely overlap)."""
    peak = max(snap["p_data"])
    return [d for d, p in zip(snap["d"], snap["p_data"], strict=True) if p >= CENTRAL_95 * peak]


if __name__ == "__main__":
    main()
