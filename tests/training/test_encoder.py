import copy

import pytest
import torch

from models.checkpoint import load_checkpoint, save_checkpoint
from tests.helpers import tiny

pytestmark = pytest.mark.unit


def q_loss(D, G, seed: int = 5) -> float:
    import torch.nn.functional as F

    latents = G.prior(256, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        cat_logits, codes = D.encode(G(latents))
        return (F.cross_entropy(cat_logits, latents.categories) + F.mse_loss(codes, latents.codes)).item()


def test_fit_encoder_teaches_q_to_read_the_generators_codes(tmp_path):
    from training.encoder import fit_encoder

    G, D = tiny("infogan")
    before = q_loss(D.eval(), G)
    fitted = fit_encoder(G, steps=300, batch=64, shift=0, init=copy.deepcopy(D))
    assert q_loss(fitted, G) < 0.2 * before
    # from a saved discriminator, as `--init` loads one (frozen, in eval mode, as every checkpoint loads)
    save_checkpoint(D, tmp_path / "d", {"kind": "discriminator"})
    loaded, _ = load_checkpoint(tmp_path / "d")
    assert not any(p.requires_grad for p in loaded.parameters())
    again = fit_encoder(G, steps=5, batch=32, init=loaded)
    assert any(not torch.equal(a, b) for a, b in zip(again.state_dict().values(), D.state_dict().values(),
                                                     strict=True))
