import json

import pytest
import torch

from models import Generator
from models.checkpoint import load_checkpoint
from tests.helpers import TINY, write_split
from training import train as train_module
from training.config import TrainConfig
from training.train import train


def tiny_config(family: str, epochs: int = 1, **kw) -> TrainConfig:
    g_kwargs, d_kwargs = TINY[family]
    return TrainConfig(f"tiny-{family}", family, epochs=epochs, batch_size=16, g_kwargs=g_kwargs,
                       d_kwargs=d_kwargs, log_every=1, **kw)


@pytest.fixture
def data_dir(tmp_path):
    write_split(tmp_path, "train", 64)
    return tmp_path


@pytest.mark.unit
@pytest.mark.parametrize("family", ["gan", "dcgan", "cgan", "infogan"])
def test_training_steps_run_and_write_the_run_folder(tmp_path, data_dir, family):
    cfg = tiny_config(family, loss="minimax" if family == "gan" else "non-saturating",
                      d_steps=2 if family == "gan" else 1)
    card = train(cfg, tmp_path / "run", tmp_path / "ck", torch.device("cpu"), data_dir=data_dir)
    assert card["steps"] == (2 if family == "gan" else 4)
    run = tmp_path / "run"
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert log and all(torch.isfinite(torch.tensor(r["d_loss"])) for r in log)
    if family == "infogan":
        assert "info_loss" in log[0]
    for name in ("config.json", "loss_curve.png", "samples/epoch_001.png", "train_state.safetensors"):
        assert (run / name).is_file(), name
    G, loaded_card = load_checkpoint(tmp_path / "ck" / f"tiny-{family}", expected_class=Generator)
    assert loaded_card["family"] == family and loaded_card["steps"] == card["steps"]


@pytest.mark.unit
def test_resume_continues_where_it_stopped(tmp_path, data_dir):
    straight = train(tiny_config("cgan", epochs=2), tmp_path / "a", tmp_path / "ck_a", torch.device("cpu"),
                     data_dir=data_dir)
    train(tiny_config("cgan", epochs=1), tmp_path / "b", None, torch.device("cpu"), data_dir=data_dir)
    resumed = train(tiny_config("cgan", epochs=2), tmp_path / "b", tmp_path / "ck_b", torch.device("cpu"),
                    resume=True, data_dir=data_dir)
    assert resumed["steps"] == straight["steps"] == 8
    Ga, _ = load_checkpoint(tmp_path / "ck_a" / "tiny-cgan")
    Gb, _ = load_checkpoint(tmp_path / "ck_b" / "tiny-cgan")
    for (name, a), b in zip(Ga.state_dict().items(), Gb.state_dict().values(), strict=False):
        assert torch.allclose(a, b, atol=1e-6), name
    log = (tmp_path / "b" / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in log] == list(range(1, 9))

    # resuming a finished run trains nothing and exports the same generator again
    again = train(tiny_config("cgan", epochs=2), tmp_path / "b", tmp_path / "ck_c", torch.device("cpu"),
                  resume=True, data_dir=data_dir)
    assert (again["epochs"], again["steps"]) == (2, 8)
    Gc, _ = load_checkpoint(tmp_path / "ck_c" / "tiny-cgan")
    for a, c in zip(Gb.state_dict().values(), Gc.state_dict().values(), strict=True):
        assert torch.equal(a, c)
    assert len((tmp_path / "b" / "log.jsonl").read_text().splitlines()) == 8


@pytest.mark.unit
def test_learning_rates_decay_linearly_to_zero_over_the_last_share_of_steps():
    from training.train import Trainer

    trainer = Trainer(tiny_config("dcgan", lr_g=1e-3, lr_d=4e-4, lr_decay_from=0.5), (1, 28, 28),
                      torch.device("cpu"))
    scales = [trainer.set_lr_schedule(step, 10) for step in range(10)]
    assert scales == pytest.approx([1, 1, 1, 1, 1, 1.0, 0.8, 0.6, 0.4, 0.2])
    assert trainer.opt_g.param_groups[0]["lr"] == pytest.approx(2e-4)  # step 9: a fifth of 1e-3
    assert trainer.opt_d.param_groups[0]["lr"] == pytest.approx(0.8e-4)
    constant = Trainer(tiny_config("dcgan"), (1, 28, 28), torch.device("cpu"))
    assert {constant.set_lr_schedule(step, 10) for step in range(10)} == {1.0}


@pytest.mark.unit
def test_a_decaying_run_ends_with_smaller_steps_than_a_constant_one(tmp_path, data_dir):
    def last_epoch_change(decay_from: float) -> float:
        cfg, run = tiny_config("dcgan", epochs=2, lr_decay_from=decay_from), tmp_path / f"r{decay_from}"
        train(cfg, run, None, torch.device("cpu"), data_dir=data_dir, max_steps=4)  # epoch 1 of 2: 4 steps
        before = load_state_g(run)
        train(cfg, run, None, torch.device("cpu"), resume=True, data_dir=data_dir)
        after = load_state_g(run)
        return sum((after[k] - before[k]).abs().sum().item() for k in before)

    # the same first epoch; in the second the decaying run's rates are 1, 0.75, 0.5 and 0.25 of the constant's
    assert last_epoch_change(0.5) < 0.8 * last_epoch_change(1.0)


def load_state_g(run_dir) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return {k: v for k, v in load_file(run_dir / "train_state.safetensors").items()
            if k.startswith("G.") and "running_" not in k and v.is_floating_point()}  # weights, not BN statistics


@pytest.mark.unit
def test_a_state_saved_before_a_config_field_existed_resumes_with_its_default(tmp_path, data_dir):
    from safetensors import safe_open
    from safetensors.torch import save_file

    train(tiny_config("gan", epochs=1), tmp_path / "run", None, torch.device("cpu"), data_dir=data_dir)
    path = tmp_path / "run" / "train_state.safetensors"
    with safe_open(path, "pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    state = json.loads(meta["meta"])
    del state["config"]["lr_decay_from"]  # as saved before the field was added
    save_file(tensors, path, metadata=meta | {"meta": json.dumps(state)})
    card = train(tiny_config("gan", epochs=2), tmp_path / "run", None, torch.device("cpu"), resume=True,
                 data_dir=data_dir)
    assert card["steps"] == 8  # two epochs of four steps: the second one trained
    with pytest.raises(train_module.ResumeError, match="another config"):
        train(tiny_config("gan", epochs=3, lr_decay_from=0.5), tmp_path / "run", None, torch.device("cpu"),
              resume=True, data_dir=data_dir)


@pytest.mark.integration
def test_cli_runs_a_preset_for_a_few_steps(tmp_path, capsys):
    train_module.main(["--preset", "dcgan-mnist", "--epochs", "1", "--max-steps", "2", "--device", "auto",
                       "--run-dir", str(tmp_path / "run"), "--checkpoint-dir", str(tmp_path / "ck")])
    assert "wrote" in capsys.readouterr().out
    _, card = load_checkpoint(tmp_path / "ck" / "dcgan-mnist")
    assert card["steps"] == 2 and card["dataset"] == "mnist-10k" and card["image_size"] == 28
    _, d_card = load_checkpoint(tmp_path / "ck" / "dcgan-mnist-discriminator")
    assert d_card["kind"] == "discriminator" and d_card["generator_sha256"] == card["sha256"]  # made together


@pytest.mark.unit
def test_translation_shifts_each_image_and_fills_with_background():
    from training.augment import translate

    torch.manual_seed(0)
    x = torch.full((64, 1, 8, 8), -1.0)
    x[:, :, 3:5, 3:5] = 1.0  # a centred square
    y = translate(x, 2)
    assert y.shape == x.shape
    assert torch.equal((y == 1).sum(dim=(1, 2, 3)), torch.full((64,), 4))  # moved, never cut at this size
    centres = (y == 1).float().nonzero()[:, 2:].view(64, 4, 2).float().mean(1)
    assert centres.min() >= 1.5 and centres.max() <= 5.5 and len({tuple(c.tolist()) for c in centres}) > 5
    x.requires_grad_(True)
    translate(x, 2).sum().backward()
    assert x.grad is not None  # differentiable, so G learns through it


@pytest.mark.unit
def test_translation_stops_after_translate_epochs():
    from training.train import Trainer

    x = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    seen: list[torch.Tensor] = []
    for until, translated in ((None, [True, True, True]), (2, [True, True, False]), (0, [False] * 3)):
        trainer = Trainer(tiny_config("gan", translate=2, translate_epochs=until), (1, 28, 28), torch.device("cpu"))
        trainer.D_net = lambda images, latents: seen.append(images)  # what D is shown
        for epoch, expected in enumerate(translated):
            trainer.set_epoch(epoch)
            torch.manual_seed(epoch)
            trainer.discriminate(x, None)
            assert (not torch.equal(seen[-1], x)) is expected, (until, epoch)
    off = Trainer(tiny_config("gan"), (1, 28, 28), torch.device("cpu"))
    off.D_net = lambda images, latents: images
    off.set_epoch(0)
    assert torch.equal(off.discriminate(x, None), x)


@pytest.mark.unit
def test_r1_penalty_flattens_d_on_real_digits():
    from training.train import Trainer

    torch.manual_seed(0)
    real = torch.rand(16, 1, 28, 28) * 2 - 1
    labels = torch.zeros(16, dtype=torch.long)

    def real_gradient_norm(gamma: float) -> tuple[float, list[bool]]:
        torch.manual_seed(1)
        trainer = Trainer(tiny_config("dcgan", r1_gamma=gamma, r1_every=2), (1, 28, 28), torch.device("cpu"))
        penalised = ["r1" in trainer.d_step(real, labels) for _ in range(40)]
        x = real.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(trainer.D(x).sum(), x)
        return grad.square().flatten(1).sum(1).mean().item(), penalised

    free, never = real_gradient_norm(0.0)
    flat, lazily = real_gradient_norm(100.0)
    assert not any(never) and lazily == [True, False] * 20  # lazy: every r1_every-th D step
    assert flat < free / 2  # about a third after 40 steps


@pytest.mark.unit
def test_tensorboard_events_hold_the_losses_rates_and_sample_grids(tmp_path, data_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from training.config import PRESETS
    from training.train import train

    cfg = PRESETS["dcgan-mnist"].with_overrides(epochs=2, batch_size=16, log_every=1,
                                                g_kwargs={"z_dim": 8, "base_channels": 4},
                                                d_kwargs={"base_channels": 4})
    train(cfg, tmp_path / "run", None, torch.device("cpu"), data_dir=str(data_dir), max_steps=6,
          tensorboard=tmp_path / "run" / "tensorboard")
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"loss/d", "loss/g", "d/real (D(x))", "d/fake (D(G(z)))", "lr/g", "lr/d"} <= scalars, scalars
    assert len(events.Scalars("loss/g")) == 6 and all(0 <= e.value <= 1 for e in events.Scalars("d/real (D(x))"))
    images = events.Images("samples (fixed seeds)")  # one an epoch: 4 steps, then 2 of the second
    assert [i.step for i in images] == [1, 2] and images[0].width > 0 and images[0].height > 0


@pytest.mark.unit
def test_fake_labels_follow_the_data_when_asked():
    from training.train import Trainer

    counts = torch.tensor([0, 90, 10])
    cfg = tiny_config("cgan", fake_labels="data").with_overrides(g_kwargs=TINY["cgan"][0] | {"num_classes": 3},
                                                                  d_kwargs=TINY["cgan"][1] | {"num_classes": 3})
    drawn = Trainer(cfg, (1, 28, 28), torch.device("cpu"), label_counts=counts).prior(1000).labels
    share = torch.bincount(drawn, minlength=3) / 1000
    assert share[0] == 0 and 0.85 < share[1] < 0.95
    uniform = Trainer(cfg.with_overrides(fake_labels="uniform"), (1, 28, 28), torch.device("cpu"),
                      label_counts=counts).prior(1000).labels
    assert (torch.bincount(uniform, minlength=3) > 250).all()
    with pytest.raises(ValueError, match="fake_labels"):
        Trainer(cfg.with_overrides(fake_labels="balanced"), (1, 28, 28), torch.device("cpu"))


@pytest.mark.unit
def test_a_class_head_in_d_learns_the_real_labels_and_trains_g_toward_the_label_asked_for():
    from training.train import Trainer

    torch.manual_seed(0)
    d_kwargs = TINY["cgan"][1] | {"num_classes": 4, "conditioning": "projection", "classify": True}
    cfg = tiny_config("cgan", lr_d=2e-3).with_overrides(g_kwargs=TINY["cgan"][0] | {"num_classes": 4},
                                                        d_kwargs=d_kwargs)
    trainer = Trainer(cfg, (1, 28, 28), torch.device("cpu"))
    labels = torch.arange(16) % 4
    real = -torch.ones(16, 1, 28, 28)
    for i, k in enumerate(labels):  # class k lights quadrant k: a class the head can learn to read
        real[i, :, 14 * (k // 2):14 * (k // 2 + 1), 14 * (k % 2):14 * (k % 2 + 1)] = 1
    first = trainer.d_step(real, labels)["d_class"]
    for _ in range(40):
        last = trainer.d_step(real, labels)["d_class"]
    assert last < first / 2, (first, last)
    g_stats = trainer.g_step(16)
    assert g_stats["g_class"] > 0  # G's loss carries the head's cross-entropy on the labels G was given
    plain = Trainer(tiny_config("cgan"), (1, 28, 28), torch.device("cpu"))
    assert "d_class" not in plain.d_step(real, labels) and "g_class" not in plain.g_step(16)
