"""What the two-sample test reads, on shipped generators (docs/training-notes.md, session 5).

    python scripts/c2st_diagnostics.py

InfoGAN: its samples drawn from the prior, with both continuous codes held at 0, and with their range halved.
MLP GAN: its samples as they are, quantized to 8 bits, and with every pixel below -0.6 set to background.
Each against the same 4,500 real digits the evaluator uses; the critic trains on one thread, so figures repeat.
"""

from __future__ import annotations

import torch

from models.checkpoint import load_checkpoint
from models.files import REPO_ROOT
from training.evaluate import generate, real_halves, two_sample_test


def main() -> None:
    real, _ = real_halves()
    n = len(real)
    G, _ = load_checkpoint(REPO_ROOT / "checkpoints" / "infogan-mnist")
    for name, scale in (("prior", 1.0), ("codes at 0", 0.0), ("codes' range halved", 0.5)):
        latents = G.balanced_prior(n, torch.Generator().manual_seed(0))
        latents.codes = latents.codes * scale
        with torch.inference_mode():
            images = torch.cat([G(latents[i : i + 500]) for i in range(0, n, 500)])
        print(f"infogan-mnist, {name}: {two_sample_test(real, images)}", flush=True)
    G, _ = load_checkpoint(REPO_ROOT / "checkpoints" / "gan-mnist")
    with torch.inference_mode():
        images = generate(G, 5000, 0)[0][:n]  # the evaluator's samples
    quantized = torch.round((images + 1) * 127.5) / 127.5 - 1
    cleared = torch.where(images < -0.6, torch.full_like(images, -1.0), images)
    for name, x in (("as generated", images), ("quantized to 8 bits", quantized), ("below -0.6 cleared", cleared)):
        print(f"gan-mnist, {name}: {two_sample_test(real, x)}", flush=True)


if __name__ == "__main__":
    main()
