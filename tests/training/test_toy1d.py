"""The 1-D GAN of Goodfellow et al. (2014), figure 1, trained for real (seed 0, about 15 s each on one thread)."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from scipy.stats import wasserstein_distance

from tests.helpers import REPO_ROOT
from training import toy1d
from training.toy1d import Toy1d, Toy1dConfig, central, data_spread, sample_data, train_toy1d

pytestmark = pytest.mark.integration


def w1_in_sigmas(result: dict, cfg: Toy1dConfig) -> float:
    data = sample_data(cfg, 20000, torch.Generator().manual_seed(1)).squeeze(1).numpy()
    return wasserstein_distance(result["model"].samples(), data) / data_spread(cfg)[1]


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_the_non_saturating_gan_reaches_the_papers_equilibrium(one_thread):
    cfg = Toy1dConfig(snapshot_every=500)
    result = train_toy1d(cfg)
    end = result["snapshots"][-1]
    assert end["step"] == cfg.steps
    d = central(end)
    assert len(d) > 20 and max(abs(v - 0.5) for v in d) < 0.1, (min(d), max(d))  # D = 1/2 on the data
    assert w1_in_sigmas(result, cfg) < 0.1  # p_g = p_data


def test_the_minimax_loss_saturates_from_a_poor_start(one_thread):
    """The paper's point (section 3): early on, D rejects G's samples with confidence and log(1 - D(G(z)))
    saturates, so G gets no gradient and stays where it began; -log D(G(z)) gives the same fixed point with strong
    gradients early. The run starts G away from the data, as in the paper's panels."""
    cfg = Toy1dConfig(loss="minimax", snapshot_every=500)
    result = train_toy1d(cfg)
    assert w1_in_sigmas(result, cfg) > 5  # G never reached the data
    assert min(central(result["snapshots"][-1])) > 0.99  # and D rejects G with certainty
    # why: at that state G's gradient under the minimax loss is a vanishing fraction of the non-saturating one
    model = result["model"]
    logits = model.D(model.G(torch.randn(1024, 1, generator=torch.Generator().manual_seed(0))))
    grads = {}
    for name, loss in (("minimax", -torch.nn.functional.softplus(logits).mean()),
                       ("non-saturating", torch.nn.functional.softplus(-logits).mean())):
        g = torch.autograd.grad(loss, list(model.G.parameters()), retain_graph=True)
        grads[name] = torch.cat([t.flatten() for t in g]).norm().item()
    assert grads["minimax"] < 1e-3 * grads["non-saturating"], grads


def test_optimal_discriminator_matches_a_d_trained_with_g_frozen(one_thread):
    """D* = p_data / (p_data + p_g) against D trained for 3,000 steps with G held still, from G and D 100 steps
    into training (G partly over the data, so D* spans 0.04 to 1). Compared where either density has mass
    (above 5% of the larger peak): mean |D - D*| at most 0.05 and max at most 0.15 (measured 0.028 and 0.108;
    p_g is a kernel estimate whose bandwidth blurs G's narrow density, and D is a smooth function, so the two
    part most where D* turns fastest)."""
    cfg = Toy1dConfig()
    model = Toy1d(cfg)
    for _ in range(100):
        for _ in range(cfg.k):
            model.d_step()
        model.g_step()
    frozen = copy.deepcopy(model)
    frozen.train_d_to_optimum(3000)
    snap = frozen.snapshot(100, np.linspace(-3, 9, 161))
    d, d_star, p_data, p_g = (np.array(snap[k], dtype=float) for k in ("d", "d_star", "p_data", "p_g"))
    mass = (p_data + p_g) > 0.05 * max(p_data.max(), p_g.max())
    assert np.nanmin(d_star[mass]) < 0.2 and np.nanmax(d_star[mass]) > 0.9  # a D* worth comparing against
    gap = np.abs(d - d_star)[mass]
    assert gap.mean() <= 0.05 and gap.max() <= 0.15, (gap.mean(), gap.max())


def test_cli_writes_the_figure_and_the_snapshots(tmp_path, one_thread):
    toy1d.main(["--out", str(tmp_path), "--data", "mixture", "--steps", "200"])
    doc = json.loads((tmp_path / "toy1d.json").read_text())
    snaps = doc["snapshots"]
    assert [s["step"] for s in snaps] == [0, 100, 200]
    for s in snaps:
        assert {"step", "x", "p_data", "p_g", "d", "d_star"} <= s.keys()
        assert len({len(s[k]) for k in ("x", "p_data", "p_g", "d", "d_star")}) == 1
    assert set(doc["panels"]) == set("abcd")
    png = (tmp_path / "toy1d.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_demo_pages_snapshots_are_a_finished_run():
    doc = json.loads((REPO_ROOT / "app" / "static" / "toy1d.json").read_text())
    end = doc["snapshots"][-1]
    assert end["step"] == doc["config"]["steps"] and len(doc["snapshots"]) > 20
    assert max(abs(v - 0.5) for v in central(end)) < 0.1
