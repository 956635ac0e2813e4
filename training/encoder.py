"""InfoGAN's Q for a generator that shipped without it: Q fitted to the frozen generator's own samples.

    python -m training.encoder checkpoints/infogan-mnist       # writes checkpoints/infogan-mnist-discriminator
    python -m training.evaluate checkpoints/infogan-mnist      # then measures Q as an encoder

InfoGAN trains Q (a head on D's body) to recover the codes c from G(z, c): the lower bound on the mutual
information, cross-entropy on the category and squared error on the continuous codes. Here that Q step alone runs,
with G held still, on fresh samples of G every step (an unlimited supply of labelled images), each translated by
up to 2 pixels as the preset's D saw its inputs. The discriminator class is InfoGAN's own (shared body, D and Q
heads); only Q's head and the body are trained, so D's head stays untrained and is not used (the card says so).
Starting Q's body from a discriminator of a run of the same preset (``--init``) is optional.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from models.checkpoint import load_checkpoint, save_checkpoint
from models.common import Generator
from models.infogan import InfoganDiscriminator
from models.runtime import available_cpus
from training.augment import translate


def fit_encoder(G: Generator, steps: int = 3000, batch: int = 128, lr: float = 1e-3, seed: int = 0,
                shift: int = 2, lambda_cont: float = 1.0, init: InfoganDiscriminator | None = None,
                **d_kwargs: int) -> InfoganDiscriminator:
    """Q trained to read G's categories and codes from G's images."""
    torch.manual_seed(seed)
    D = init or InfoganDiscriminator(G.num_categories, G.num_continuous, G.img_shape, **d_kwargs)
    D.train().requires_grad_(True)  # a loaded checkpoint comes frozen
    params = [*D.body.parameters(), *D.q_head.parameters()]
    opt = torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(seed)
    G.eval()
    for _ in range(steps):
        latents = G.prior(batch, gen)
        with torch.no_grad():
            images = G(latents)
        if shift:
            images = translate(images, shift)
        cat_logits, codes = D.encode(images)
        loss = F.cross_entropy(cat_logits, latents.categories) + lambda_cont * F.mse_loss(codes, latents.codes)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        schedule.step()
    return D.eval()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("generator", type=Path, help="an InfoGAN generator checkpoint, e.g. checkpoints/infogan-mnist")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init", type=Path, help="a discriminator checkpoint of the same preset to start from")
    args = parser.parse_args(argv)
    torch.set_num_threads(available_cpus())
    G, card = load_checkpoint(args.generator, expected_class=Generator)
    if not G.num_categories:
        parser.error(f"{args.generator} is not an InfoGAN generator")
    init = load_checkpoint(args.init, expected_class=InfoganDiscriminator)[0] if args.init else None
    d_kwargs = card["config"]["d_kwargs"]
    started = time.perf_counter()
    D = fit_encoder(G, args.steps, seed=args.seed, init=init, **d_kwargs)
    out = args.generator.with_name(args.generator.name + "-discriminator")
    d_card = {
        "kind": "discriminator", "generator": card["name"], "dataset": card["dataset"], "preset": card["preset"],
        "trained": f"Q step alone on the frozen generator's samples (training/encoder.py), {args.steps} steps, "
                   "D's head untrained" + (f", body from {args.init.name}" if args.init else ""),
        "steps": args.steps, "seed": args.seed, "training_time_s": round(time.perf_counter() - started, 1),
        "generator_sha256": card["sha256"], "metrics": {},
    }
    save_checkpoint(D, out, d_card)
    print(f"wrote {out}.safetensors ({d_card['training_time_s']} s)")


if __name__ == "__main__":
    main()
