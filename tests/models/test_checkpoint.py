import json

import pytest
import torch

from models import DigitClassifier, Generator
from models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tests.helpers import tiny

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("family", ["gan", "dcgan", "cgan", "infogan"])
def test_round_trip_gives_identical_outputs(tmp_path, family):
    G, _ = tiny(family)
    card = save_checkpoint(G, tmp_path / "g", {"dataset": "test"})
    assert card["family"] == family and card["class_name"] == type(G).__name__
    loaded, card2 = load_checkpoint(tmp_path / "g.safetensors", expected_class=Generator)
    assert card2["kwargs"] == card["kwargs"]
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    latents = G.latents_for_seeds([1, 2, 3])
    assert torch.equal(G(latents), loaded(latents))


@pytest.fixture
def saved(tmp_path):
    G, _ = tiny("dcgan")
    save_checkpoint(G, tmp_path / "g", {})
    return tmp_path / "g.safetensors", tmp_path / "g.json"


def test_truncated_weights_are_rejected_naming_the_file(saved):
    weights, card = saved
    weights.write_bytes(weights.read_bytes()[:100])
    # a card without the hash: the safetensors parser itself must catch the truncation
    data = json.loads(card.read_text())
    del data["sha256"]
    card.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match=r"g\.safetensors.*unreadable"):
        load_checkpoint(weights)


def test_changed_weights_fail_the_hash(saved):
    weights, _ = saved
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(weights)


def test_mismatched_shapes_are_rejected(saved):
    weights, card = saved
    data = json.loads(card.read_text())
    data["kwargs"]["base_channels"] = 8
    card.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="do not match DcganGenerator"):
        load_checkpoint(weights)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.update(class_name="os.system"), "unknown class_name"),
        (lambda d: d.update(format_version=99), "format_version"),
        (lambda d: d["kwargs"].update(bogus=1), "constructor arguments"),
    ],
)
def test_bad_cards_are_rejected(saved, edit, message):
    weights, card = saved
    data = json.loads(card.read_text())
    edit(data)
    card.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(weights)


def test_garbled_card_and_missing_files(saved, tmp_path):
    weights, card = saved
    card.write_text("{not json")
    with pytest.raises(CheckpointError, match=r"g\.json.*not valid JSON"):
        load_checkpoint(weights)
    with pytest.raises(CheckpointError, match="card file not found"):
        load_checkpoint(tmp_path / "absent")


def test_expected_class_is_enforced(tmp_path):
    save_checkpoint(DigitClassifier(), tmp_path / "c", {})
    with pytest.raises(CheckpointError, match="expected a Generator"):
        load_checkpoint(tmp_path / "c", expected_class=Generator)

