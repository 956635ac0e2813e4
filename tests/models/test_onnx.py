"""models.onnx and ``python -m training.export``: every shipped generator as an ONNX graph, run by ONNX Runtime
against torch (one thread, 64 seeds each)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from models import Generator, Latents
from models.checkpoint import load_checkpoint, version_of
from models.images import to_uint8
from models.onnx import BATCH, OPSET, export_onnx, input_names, onnx_inputs
from tests.helpers import CHECKPOINTS, shipped_generators
from training.export import main as export_main

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

pytestmark = pytest.mark.unit

SEEDS = range(64)


def session(data: bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def exported() -> dict[str, tuple[Generator, dict, bytes, ort.InferenceSession]]:
    """Every shipped generator, its card, its ONNX file and a session running it."""
    models = {}
    for name in shipped_generators():
        G, card = load_checkpoint(CHECKPOINTS / name, expected_class=Generator)
        data = export_onnx(G, card)
        models[name] = (G, card, data, session(data))
    return models


def torch_pixels(G: Generator, latents: Latents) -> np.ndarray:
    with torch.inference_mode():
        return to_uint8(G(latents))


def run(sess: ort.InferenceSession, G: Generator, latents: Latents) -> np.ndarray:
    return sess.run(None, onnx_inputs(G, latents))[0]


def test_the_shipped_checkpoints_hold_every_family_in_grey_and_colour(exported):
    families = {G.family for G, *_ in exported.values()}
    assert families == {"gan", "dcgan", "cgan", "infogan"}
    assert {G.img_shape for G, *_ in exported.values()} >= {(1, 28, 28), (3, 64, 64)}


@pytest.mark.parametrize("name", shipped_generators())
def test_onnx_runtime_draws_the_torch_pixels_within_a_grey_level(exported, name):
    G, _, _, sess = exported[name]
    latents = G.latents_for_seeds(SEEDS)
    got, want = run(sess, G, latents), torch_pixels(G, latents)
    assert got.dtype == np.uint8 and got.shape == want.shape == (64, G.img_shape[1], G.img_shape[2], G.img_shape[0])
    assert np.abs(got.astype(np.int16) - want).max() <= 1
    # a row is the same image alone as in the batch of 64
    assert np.array_equal(run(sess, G, latents[:1]), got[:1])


@pytest.mark.parametrize("name", ["cgan-mnist", "infogan-mnist"])
def test_blended_rows_match_torch(exported, name):
    """An interpolation between two labels (categories): each row's one-hot blended toward the other end's by its
    weight, inside the graph."""
    G, _, _, sess = exported[name]
    latents = G.latents_for_seeds(range(8), **({"labels": 3} if G.num_classes else {"categories": 3}))
    toward = torch.full((8,), 7)
    latents.blend = torch.linspace(0, 1, 8)
    if G.num_classes:
        latents.blend_labels = toward
    else:
        latents.blend_categories = toward
    got, want = run(sess, G, latents), torch_pixels(G, latents)
    assert np.abs(got.astype(np.int16) - want).max() <= 1
    plain = G.latents_for_seeds(range(8), **({"labels": 3} if G.num_classes else {"categories": 3}))
    assert np.array_equal(got[0], run(sess, G, plain)[0])  # weight 0: the row's own label
    assert not np.array_equal(got[-1], run(sess, G, plain)[-1])  # weight 1: the other end's


def test_the_feed_gives_latents_without_a_blend_weight_zero_toward_their_own_labels(exported):
    G = exported["cgan-mnist"][0]
    feed = onnx_inputs(G, G.latents_for_seeds([4, 5], labels=[2, 9]))
    assert list(feed) == ["z", "labels", "blend_labels", "blend"]
    assert feed["z"].dtype == np.float32 and feed["z"].shape == (2, G.z_dim)
    assert feed["labels"].dtype == np.int64 and feed["labels"].tolist() == feed["blend_labels"].tolist() == [2, 9]
    assert feed["blend"].dtype == np.float32 and feed["blend"].tolist() == [0, 0]
    with pytest.raises(ValueError, match="needs labels"):
        onnx_inputs(G, Latents(torch.zeros(1, G.z_dim)))


def test_the_file_is_valid_and_names_its_model(exported):
    for name, (G, card, data, _) in exported.items():
        model = onnx.load_from_string(data)
        onnx.checker.check_model(model, full_check=True)
        assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [OPSET]
        assert [i.name for i in model.graph.input] == list(input_names(G))
        assert [o.name for o in model.graph.output] == ["images"]
        for value in (*model.graph.input, *model.graph.output):
            assert value.type.tensor_type.shape.dim[0].dim_param == BATCH, (name, value.name)
        sides = [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim[1:]]
        assert sides == [G.img_shape[1], G.img_shape[2], G.img_shape[0]]
        meta = {p.key: json.loads(p.value) for p in model.metadata_props}
        assert meta["name"] == name and meta["family"] == G.family and meta["z_dim"] == G.z_dim
        assert meta["img_shape"] == list(G.img_shape) and meta["pixels"] == "uint8"
        assert meta["sha256"] == card["sha256"] and meta["version"] == version_of(card)
        assert meta.get("class_names") == card.get("class_names")
    inputs = {name: [i.name for i in onnx.load_from_string(exported[name][2]).graph.input]
              for name in ("gan-mnist", "cgan-mnist", "infogan-mnist")}
    assert inputs == {"gan-mnist": ["z"], "cgan-mnist": ["z", "labels", "blend_labels", "blend"],
                      "infogan-mnist": ["z", "categories", "blend_categories", "codes", "blend"]}
    assert "class_names" in {p.key for p in onnx.load_from_string(exported["cgan-fashion"][2]).metadata_props}


def test_the_same_checkpoint_exports_the_same_bytes(exported):
    G, card, data, _ = exported["cgan-mnist"]
    assert export_onnx(G, card) == data


def test_float_pixels_are_the_generators_own_values(exported):
    G, card, _, _ = exported["dcgan-mnist"]
    sess = session(export_onnx(G, card, pixels="float"))
    latents = G.latents_for_seeds(range(8))
    got = run(sess, G, latents)
    with torch.inference_mode():
        want = G(latents).permute(0, 2, 3, 1).numpy()
    assert got.dtype == np.float32 and got.shape == want.shape == (8, 28, 28, 1)
    assert np.abs(got - want).max() < 1e-3  # batch norm folded: the same function up to float rounding
    with pytest.raises(ValueError, match="pixels"):
        export_onnx(G, card, pixels="uint16")


def test_the_cli_writes_the_file_and_refuses_what_is_not_a_generator(exported, tmp_path, capsys):
    G, card, data, _ = exported["infogan-mnist"]
    export_main([str(CHECKPOINTS / "infogan-mnist"), "--format", "onnx", "--out", str(tmp_path)])
    assert (tmp_path / "infogan-mnist.onnx").read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["infogan-mnist.onnx"]  # no temporary file left
    for name, why in (("no-such-model", "no checkpoint 'no-such-model'"),
                      (str(CHECKPOINTS / "classifier-mnist"), "expected a Generator")):
        capsys.readouterr()
        with pytest.raises(SystemExit) as stop:
            export_main([name, "--out", str(tmp_path / "refused")])
        err = capsys.readouterr().err
        assert stop.value.code == 1 and why in err and err.count("\n") == 1, err
    assert not (tmp_path / "refused").exists()
