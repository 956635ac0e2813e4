"""The Python client and the gan-client command line against the real app."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys

import pytest
from PIL import Image

from gan_client import AsyncGanClient, GanClient, GanClientError, InvalidRequest, Unauthorized
from gan_client.cli import main
from tests.helpers import CHECKPOINTS, REPO_ROOT
from tests.server import free_port, running_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def url():
    with running_server({"GAN_CHECKPOINT_DIR": CHECKPOINTS}) as base:
        yield base


def test_client_generates_images_with_seeds_and_labels(url):
    with GanClient(url) as client:
        assert client.health()
        assert {"cgan-mnist", "infogan-mnist"} <= {m["name"] for m in client.models()}
        samples = client.generate(model="cgan-mnist", label=7, n=16, seed=100)
        assert len(samples) == 16 and samples[3].seed == 103 and all(s.label == 7 for s in samples)
        assert samples[0].image.size == (28, 28)
        again = client.generate(model="cgan-mnist", label=7, seed=103)
        assert again[0].image.tobytes() == samples[3].image.tobytes()
        frames = client.interpolate("dcgan-mnist", 1, 2, steps=5)
        assert len(frames) == 5
        result = client.arithmetic("dcgan-mnist", [{"seeds": [1, 2, 3]}, {"seeds": [4], "weight": -1}], neighbors=2)
        assert len(result) == 3 and len(result[0].z) == client.model("dcgan-mnist")["z_dim"]
        sweep = client.sweep("infogan-mnist", vary=1, steps=3)
        assert len(sweep) == 30 and sweep[0].codes[1] == -2.0
        pixels = client.generate_array("cgan-mnist", n=16, seed=100, label=7)  # npy: no PNG on either side
        assert pixels.shape == (16, 28, 28, 1) and pixels[3, :, :, 0].tobytes() == samples[3].image.tobytes()


def test_client_and_cli_ask_for_a_class_by_name(url, tmp_path):
    with GanClient(url) as client:
        named = client.generate(model="cgan-fashion", label="sneaker", n=3, seed=5)
        assert [(s.label, s.label_name) for s in named] == [(7, "sneaker")] * 3
        by_index = client.generate(model="cgan-fashion", label=7, n=3, seed=5)
        assert [s.image.tobytes() for s in named] == [s.image.tobytes() for s in by_index]
    out = tmp_path / "bags.png"
    args = ["--url", url, "generate", "--model", "cgan-fashion", "--label", "bag", "--n", "4", "-o", str(out)]
    assert main(args) == 0
    assert Image.open(out).size == (2 * 30 + 2, 2 * 30 + 2)


def test_client_reports_4xx_with_the_servers_message(url):
    with GanClient(url) as client:
        with pytest.raises(GanClientError, match="label") as info:
            client.generate(model="cgan-mnist", label=12)
        assert info.value.status == 422
        with pytest.raises(GanClientError, match="unknown model 'nope'") as info:
            client.generate(model="nope")
        assert info.value.status == 404


def test_client_reports_a_server_that_is_down():
    with GanClient(f"http://127.0.0.1:{free_port()}", timeout=2) as client:
        with pytest.raises(GanClientError, match="cannot reach"):
            client.models()


def test_cli_commands_write_pngs(url, tmp_path, capsys):
    out = tmp_path / "sevens.png"
    assert main(["--url", url, "generate", "--model", "cgan-mnist", "--label", "7", "--n", "16", "-o", str(out)]) == 0
    assert Image.open(out).size == (4 * 30 + 2, 4 * 30 + 2)
    assert main(["--url", url, "models"]) == 0
    assert "cgan-mnist" in capsys.readouterr().out
    for args in (["arithmetic", "--model", "dcgan-mnist", "--term", "1,2,3", "--term", "4,5,6:-1", "--term", "7,8,9",
                  "--neighbors", "8"],
                 ["interpolate", "--model", "dcgan-mnist", "--start", "1", "--end", "2", "--steps", "6"],
                 ["sweep", "--model", "infogan-mnist", "--vary", "0", "--steps", "5"]):
        path = tmp_path / f"{args[0]}.png"
        assert main(["--url", url, *args, "-o", str(path)]) == 0, args
        assert Image.open(io.BytesIO(path.read_bytes())).size[0] > 28


def test_cli_uses_gan_url_and_reports_errors(url, tmp_path):
    env = os.environ | {"GAN_URL": url}
    run = lambda *a: subprocess.run([sys.executable, "-m", "gan_client", *a], cwd=REPO_ROOT, env=env,  # noqa: E731
                                    capture_output=True, text=True, timeout=60)
    ok = run("generate", "--model", "gan-mnist", "-o", str(tmp_path / "one.png"))
    assert ok.returncode == 0 and "wrote" in ok.stdout
    bad = run("generate", "--model", "gan-mnist", "--label", "3", "-o", str(tmp_path / "x.png"))
    assert bad.returncode == 1 and "422" in bad.stderr and "label" in bad.stderr
    down = subprocess.run([sys.executable, "-m", "gan_client", "--url", f"http://127.0.0.1:{free_port()}", "models"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert down.returncode == 1 and "cannot reach" in down.stderr


def pixels(png: bytes) -> tuple:
    image = Image.open(io.BytesIO(png))
    return image.size, image.tobytes()


def test_client_names_the_field_of_a_422(url):
    with GanClient(url) as client:
        with pytest.raises(InvalidRequest, match=r"terms\.0\.seeds") as info:
            client.arithmetic("dcgan-mnist", [{"seeds": []}])
        assert info.value.field == "terms.0.seeds" and info.value.detail[0]["loc"] == ["body", "terms", 0, "seeds"]
        with pytest.raises(InvalidRequest, match="n: ") as info:
            client.sample_png("dcgan-mnist", n=300)
        assert info.value.field == "n" and info.value.status == 422


def test_sample_png_and_encode(url, tmp_path):
    with GanClient(url) as client:
        linked = client.sample_png("dcgan-mnist", seed=3, n=4, scale=2)
        assert pixels(linked) == pixels(client.generate_png("dcgan-mnist", n=4, seed=3, scale=2))
        assert pixels(linked)[0][0] > 2 * 2 * 28  # a 2 x 2 grid, enlarged twice
        digit = client.generate_png("infogan-mnist", seed=11, category=3, codes=[0.0, 0.0], scale=4)
        path = tmp_path / "digit.png"
        path.write_bytes(digit)
        reads = [client.encode("infogan-mnist", image) for image in (digit, path, Image.open(path))]
        read = reads[0]
        assert read.category == 3 and len(read.probabilities) == 10 and len(read.codes) == 2
        assert read.seen.size == (28, 28) and read.model_version == client.model("infogan-mnist").version
        assert all((r.category, r.probabilities, r.codes) == (read.category, read.probabilities, read.codes)
                   for r in reads)


def test_the_async_client_generates_and_encodes(url):
    with GanClient(url) as client:
        expected = client.generate(model="cgan-mnist", label=7, n=4, seed=100)
        digit = client.generate_png("infogan-mnist", seed=11, category=7, scale=4)
        expected_read = client.encode("infogan-mnist", digit)

    async def both():
        async with AsyncGanClient(url) as client:
            return await asyncio.gather(client.generate(model="cgan-mnist", label=7, n=4, seed=100),
                                        client.encode("infogan-mnist", digit))

    samples, read = asyncio.run(both())
    assert [s.seed for s in samples] == [100, 101, 102, 103] and all(s.label == 7 for s in samples)
    assert [s.image.tobytes() for s in samples] == [s.image.tobytes() for s in expected]
    assert (read.category, read.codes, read.digit) == (expected_read.category, expected_read.codes, expected_read.digit)


def test_cli_writes_to_stdout_takes_negative_codes_and_the_url_after_the_command(url, capsysbinary):
    args = ["generate", "--model", "infogan-mnist", "--category", "2", "--codes", "-1,0.5", "--seed", "4", "-o", "-",
            "--url", url]
    assert main(args) == 0
    written = capsysbinary.readouterr().out
    with GanClient(url) as client:
        assert pixels(written) == pixels(client.generate_png("infogan-mnist", seed=4, category=2, codes=[-1, 0.5]))


def test_api_keys_from_the_argument_the_environment_and_the_cli(monkeypatch):
    monkeypatch.delenv("GAN_API_KEY", raising=False)
    with running_server({"GAN_CHECKPOINT_DIR": CHECKPOINTS, "GAN_API_KEYS": "key-one"}) as keyed:
        with GanClient(keyed) as client:
            with pytest.raises(Unauthorized) as info:
                client.models()
            assert info.value.status == 401 and info.value.field == "authorization"
        with GanClient(keyed, api_key="key-one") as client:
            assert client.generate("dcgan-mnist", seed=1)[0].seed == 1
        assert main(["models", "--url", keyed, "--api-key", "key-one"]) == 0
        env = os.environ | {"GAN_URL": keyed, "GAN_API_KEY": "key-one"}
        done = subprocess.run([sys.executable, "-m", "gan_client", "models"], cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "dcgan-mnist" in done.stdout, done.stderr
