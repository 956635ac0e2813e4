"""Training killed between any two file operations (not by timing luck: the process is told after which
file operation to SIGKILL itself, through models.files' fault-injection hook), then resumed: the final
weights are bit-identical to an uninterrupted run, the log holds each step once, and the checkpoint being
replaced is loadable at every moment (the old one or the new one, never a broken pair)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from contextlib import contextmanager

import pytest
import torch

from models import Generator
from models.checkpoint import load_checkpoint, save_checkpoint
from models.files import CRASH_AFTER_WRITES
from tests.helpers import REPO_ROOT, TINY, write_split
from training.config import TrainConfig
from training.train import ResumeError, train

pytestmark = pytest.mark.integration

CHILD = """
import json, sys, torch
from pathlib import Path
torch.set_num_threads(1)
from training.config import TrainConfig
from training.train import train
args = json.loads(sys.argv[1])
cfg = TrainConfig(**args["cfg"])
train(cfg, Path(args["run"]), Path(args["export"]), torch.device("cpu"), resume=True, data_dir=args["data"])
"""


def config() -> TrainConfig:
    g_kwargs, d_kwargs = TINY["dcgan"]  # batch norm in G: the weight average's statistics are saved too
    return TrainConfig("tiny-dcgan", "dcgan", epochs=2, batch_size=16, g_kwargs=g_kwargs, d_kwargs=d_kwargs,
                       log_every=1, translate=1)


@contextmanager
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the same summation order as the child's
    try:
        yield
    finally:
        torch.set_num_threads(before)


def weights(path) -> dict[str, torch.Tensor]:
    G, _ = load_checkpoint(path, expected_class=Generator)
    return G.state_dict()


def old_checkpoint(folder) -> dict[str, torch.Tensor]:
    """A checkpoint already in the export folder (as the shipped ones are), made by another seed."""
    torch.manual_seed(99)
    g_cls = __import__("models").FAMILIES["dcgan"][0]
    G = g_cls(img_shape=(1, 28, 28), **TINY["dcgan"][0])
    save_checkpoint(G, folder / "tiny-dcgan", {"dataset": "old"})
    return weights(folder / "tiny-dcgan")


def test_a_kill_between_any_two_writes_then_resume_gives_the_uninterrupted_result(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_split(data, "train", 64)
    cfg = config()
    with one_thread():
        train(cfg, tmp_path / "straight", tmp_path / "straight_ck", torch.device("cpu"), data_dir=str(data))
    expected = weights(tmp_path / "straight_ck" / "tiny-dcgan")
    steps = [json.loads(line)["step"] for line in (tmp_path / "straight" / "log.jsonl").read_text().splitlines()]

    kills = 0
    for k in range(1, 100):
        run, export = tmp_path / f"run{k}", tmp_path / f"ck{k}"
        export.mkdir()
        old = old_checkpoint(export)
        args = {"cfg": cfg.__dict__, "run": str(run), "export": str(export), "data": str(data)}
        child = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], cwd=REPO_ROOT,
                               env={**__import__("os").environ, CRASH_AFTER_WRITES: str(k)}, capture_output=True,
                               text=True, timeout=120)
        if child.returncode == 0:
            break  # k is past the last file operation of a whole run
        assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
        kills += 1
        # killed: the checkpoint being replaced is the old one or the new one, never broken
        now = weights(export / "tiny-dcgan")
        assert all(torch.equal(now[n], old[n]) for n in old) or all(torch.equal(now[n], expected[n]) for n in old), k
        with one_thread():
            train(cfg, run, export, torch.device("cpu"), resume=True, data_dir=str(data))
        got = weights(export / "tiny-dcgan")
        for name, value in expected.items():
            assert torch.equal(got[name], value), f"killed after file operation {k}: {name} differs"
        logged = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]
        assert logged == steps, f"killed after file operation {k}: log steps {logged}"
    assert kills >= 15, f"only {kills} kill points: the hook is not reached"


def test_resume_refuses_a_torn_state_and_another_config(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_split(data, "train", 32)
    cfg = config().with_overrides(epochs=1)
    train(cfg, tmp_path / "run", None, torch.device("cpu"), data_dir=str(data))
    with pytest.raises(ResumeError, match="another config"):
        train(cfg.with_overrides(batch_size=8), tmp_path / "run", None, torch.device("cpu"), resume=True,
              data_dir=str(data))
    state = tmp_path / "run" / "train_state.safetensors"
    state.write_bytes(state.read_bytes()[:500])
    with pytest.raises(ResumeError, match="not a readable resume state"):
        train(cfg, tmp_path / "run", None, torch.device("cpu"), resume=True, data_dir=str(data))


def test_the_cli_will_not_replace_a_checkpoint_without_overwrite(tmp_path, capsys):
    from training import train as train_module

    (tmp_path / "ck").mkdir()
    old_checkpoint(tmp_path / "ck")
    (tmp_path / "ck" / "tiny-dcgan.json").rename(tmp_path / "ck" / "dcgan-mnist.json")
    with pytest.raises(SystemExit):
        train_module.main(["--preset", "dcgan-mnist", "--max-steps", "1", "--run-dir", str(tmp_path / "run"),
                           "--checkpoint-dir", str(tmp_path / "ck")])
    assert "--overwrite" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before any training
