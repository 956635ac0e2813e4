"""Typed training configuration and the named presets that made the shipped checkpoints."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any


@dataclass
class TrainConfig:
    name: str  # the checkpoint's name, e.g. "cgan-mnist"
    family: str  # gan | dcgan | cgan | infogan
    dataset: str = "mnist-10k"
    data: str | None = None  # a dataset made by python -m training.dataset (its folder); replaces ``dataset``
    epochs: int = 20
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    g_kwargs: dict[str, Any] = field(default_factory=dict)
    d_kwargs: dict[str, Any] = field(default_factory=dict)
    loss: str = "non-saturating"  # G's loss: "non-saturating" (-log D(G(z))) or "minimax" (log(1 - D(G(z))))
    d_steps: int = 1  # k discriminator steps per generator step (Goodfellow et al., algorithm 1)
    real_label: float = 1.0  # < 1 for one-sided label smoothing
    lambda_cat: float = 1.0  # InfoGAN: weight of the categorical code's cross-entropy
    lambda_cont: float = 0.1  # InfoGAN: weight of the continuous codes' squared error
    lambda_class: float = 1.0  # CGAN with a class head (d_kwargs classify=True): weight of its cross-entropy
    r1_gamma: float = 0.0  # R1 penalty (Mescheder et al. 2018): gamma/2 * |grad D(real)|^2 (0: off)
    r1_every: int = 4  # lazy R1 (Karras et al. 2020): every this many D steps, weighted by it
    translate: int = 0  # DiffAugment translation of D's inputs by up to this many pixels (0: off)
    translate_epochs: int | None = None  # translate only in the run's first this many epochs (None: in all)
    colour: bool = False  # DiffAugment's colour policy on D's inputs: brightness, saturation, contrast
    cutout: float = 0.0  # DiffAugment's cutout: a square of this share of the side set to grey (0: off; paper 0.5)
    fake_labels: str = "uniform"  # CGAN: G's labels drawn "uniform"ly or as often as in the "data" (unbalanced sets)
    ema_decay: float = 0.999  # the shipped generator is an exponential moving average of G's weights
    lr_decay_from: float = 1.0  # after this share of the run's steps both learning rates fall linearly to 0 (1: off)
    seed: int = 0
    log_every: int = 25  # steps between loss-log records

    def with_overrides(self, **overrides: Any) -> TrainConfig:
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"unknown config fields {sorted(unknown)}; known: {sorted(known)}")
        return replace(self, **{k: tuple(v) if k == "betas" else v for k, v in overrides.items() if v is not None})


PRESETS: dict[str, TrainConfig] = {
    # Without batch norm in G the MLP GAN collapsed onto one or two digits here, with or without PacGAN,
    # minibatch-std or spectral norm in D; batch norm in G keeps every digit. Translating D's inputs (shipped until
    # session 7) is what the two-sample test caught: 0.977 with it, 0.925 without at 80 epochs, 0.896 at 120.
    "gan-mnist": TrainConfig(
        "gan-mnist", "gan", epochs=120, batch_size=64, g_kwargs={"z_dim": 100, "batch_norm": True}, real_label=0.9,
    ),
    # G learns faster than D (as in the InfoGAN paper): FD 39 against 50 with equal rates. A third strided layer in
    # D and a full-resolution output convolution in G took FD from 39 to 7 at 40 epochs, and z of 32 values instead
    # of 100 to 5.7 (the InfoGAN lesson: less room in z for shapes between two digits). R1 keeps D from memorising
    # the 9,000 digits after epoch 40 (FD 2.8 against 5.2 at 80 epochs) and lets D learn twice as fast: 2.3 at 80
    # (2,000 samples).
    "dcgan-mnist": TrainConfig(
        "dcgan-mnist", "dcgan", epochs=80, lr_g=1e-3, lr_d=4e-4,
        g_kwargs={"z_dim": 32, "base_channels": 48, "refine": True}, d_kwargs={"base_channels": 48, "depth": 3},
        r1_gamma=1.0,
    ),
    # 40 epochs gave 97.9% label accuracy, 60 gave 98.7%, 90 gave 99.0% and passed the two-sample test's bar
    # (0.565 against 0.600 at 60; about 30 minutes alone, scaled from the 60-epoch run's 1,209 s); translation
    # of D's inputs (94% at 23 epochs) and a faster G (97.2% at 40) did worse here.
    "cgan-mnist": TrainConfig(
        "cgan-mnist", "cgan", epochs=90, g_kwargs={"z_dim": 100, "base_channels": 48},
        d_kwargs={"base_channels": 48},
    ),
    # lambda_cont = 1 lets the continuous codes take slant and width, which otherwise split one digit over
    # two categories (category accuracy 89% against 65% with 0.1, both with translation, at 40 epochs). With the
    # paper's 62 noise values z itself still decided 4 against 9 inside two categories (91% at 60 epochs); with 16
    # the category has to carry the digit. Translation of D's inputs settles the categories (66% without it) but is
    # what the two-sample test caught (0.83): 20 more epochs without it took the test to 0.62, categories 99.4%.
    "infogan-mnist": TrainConfig(
        "infogan-mnist", "infogan", epochs=60, lr_g=1e-3, lr_d=4e-4, g_kwargs={"z_dim": 16, "base_channels": 64},
        d_kwargs={"base_channels": 64}, translate=2, translate_epochs=40, lambda_cont=1.0,
    ),
    # Fashion-MNIST (60,000 training images): the dcgan-mnist recipe with z of 64 values (clothes vary more than
    # digits within a class), 10 epochs: about 9,400 steps, an estimated 31 minutes alone on this 2-core machine.
    "dcgan-fashion": TrainConfig(
        "dcgan-fashion", "dcgan", dataset="fashion-mnist", epochs=10, lr_g=1e-3, lr_d=4e-4,
        g_kwargs={"z_dim": 64, "base_channels": 48, "refine": True}, d_kwargs={"base_channels": 48, "depth": 3},
        r1_gamma=1.0,
    ),
    # cgan-mnist's recipe (both learning rates 2e-4, no output convolution, two strided layers in D, no R1):
    # two-sample test 0.802 against 0.968 with the dcgan-fashion recipe, label accuracy 87.6% against 89.7%.
    "cgan-fashion": TrainConfig(
        "cgan-fashion", "cgan", dataset="fashion-mnist", epochs=10,
        g_kwargs={"z_dim": 100, "base_channels": 48}, d_kwargs={"base_channels": 48},
    ),
    # Noto's colour emoji (python -m training.dataset emoji --size 64 --out data/emoji-64): 3,641 images at 64x64 RGB.
    # The paper's DCGAN layout (four fractionally-strided convolutions from 4x4) at half its width (base 32: 512 maps
    # at 4x4) fits the 60-minute budget on two cores, in batches of 32 (more steps for the same work: 2,712 in 24
    # epochs), with R1. Without DiffAugment: within this budget D never gets to memorise the emoji, and augmenting
    # what it sees only slowed G down (the ablation in docs/training-notes.md; the first dcgan-emoji, with colour,
    # translation and cutout, measured FD 69.6).
    "dcgan-emoji": TrainConfig(
        "dcgan-emoji", "dcgan", data="data/emoji-64", epochs=24, batch_size=32,
        g_kwargs={"z_dim": 100, "base_channels": 32},
        d_kwargs={"base_channels": 32, "depth": 4}, r1_gamma=1.0,
    ),
    # The nine groups of emoji-test.txt as labels ("food & drink"); dcgan-emoji's recipe, and a discriminator that
    # knows the groups better than from input channels: the label's embedding projected on D's last features
    # (Miyato & Koyama) and a class head whose cross-entropy D learns on real emoji and G on its own (AC-GAN), for
    # 48 epochs: the group asked for read back 47.6% -> 72.2%, FD 38.1 -> 23.3 (against the input-channel D at 24
    # epochs). The groups are unbalanced ("people & body" holds 2,142 of the 3,641, skin tones included), so G's
    # labels are drawn as often as the data has them: with uniform labels D could tell a rare group's images fake by
    # their label alone.
    "cgan-emoji": TrainConfig(
        "cgan-emoji", "cgan", data="data/emoji-64", epochs=48, batch_size=32,
        g_kwargs={"z_dim": 100, "base_channels": 32},
        d_kwargs={"base_channels": 32, "depth": 4, "conditioning": "projection", "classify": True}, r1_gamma=1.0,
        fake_labels="data",
    ),
}
