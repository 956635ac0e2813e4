"""The client's own logic without a server: retries, the API key, errors, numpy arguments and the command line's
habits, against httpx.MockTransport."""

from __future__ import annotations

import asyncio
import base64
import io
import json

import httpx
import numpy as np
import pytest
from PIL import Image

import gan_client.cli as cli_module
from gan_client import (
    AsyncGanClient,
    GanClient,
    GanClientError,
    InvalidRequest,
    RateLimited,
    ServiceUnavailable,
    ServiceUnreachable,
    Unauthorized,
)
from gan_client.cli import main, parse_args
from gan_client.client import Call

pytestmark = pytest.mark.unit

CARD = {"name": "dcgan-mnist", "family": "dcgan", "image_size": 28, "channels": 1, "z_dim": 100, "dataset": "mnist",
        "metrics": {"frechet_distance": 3.5}, "from_a_newer_server": True}


def png_bytes(value: int = 0) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (28, 28), value).save(buffer, format="PNG")
    return buffer.getvalue()


def images_answer(n: int = 1) -> httpx.Response:
    png = base64.b64encode(png_bytes()).decode()
    return httpx.Response(200, json={"images": [{"png": png, "seed": i} for i in range(n)]})


def error(status: int, loc: list, msg: str = "wrong", retry_after: str | None = None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(status, headers=headers, json={"detail": [{"loc": loc, "msg": msg, "type": "x"}]})


class Server:
    """A MockTransport that answers from a script (the last answer repeats) and keeps what it was sent."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers, self.requests = list(answers), []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def client(self, **kwargs) -> tuple[GanClient, list[float]]:
        sleeps: list[float] = []
        return GanClient("http://gan.test", transport=httpx.MockTransport(self), sleep=sleeps.append,
                         **kwargs), sleeps

    def bodies(self) -> list[dict]:
        return [json.loads(r.content) for r in self.requests]


def test_a_429_is_retried_after_its_retry_after():
    server = Server(error(429, [], retry_after="2"), error(503, [], retry_after="1"), httpx.Response(200, json=[CARD]))
    client, sleeps = server.client()
    cards = client.models()
    assert len(server.requests) == 3 and sleeps == [2.0, 1.0]
    assert cards[0].z_dim == 100 and cards[0]["z_dim"] == 100 and cards[0].metrics == {"frechet_distance": 3.5}
    assert cards[0].extra == {"from_a_newer_server": True}


def test_retries_are_bounded_and_waits_capped():
    server = Server(error(503, ["body", "model"], "busy", retry_after="3600"))
    client, sleeps = server.client(retries=2)
    with pytest.raises(ServiceUnavailable, match="busy") as info:
        client.generate("dcgan-mnist", seed=1)
    assert len(server.requests) == 3 and sleeps == [30.0, 30.0]  # 1 + 2 retries, an hour's Retry-After capped
    assert info.value.status == 503 and info.value.retry_after == 3600.0


def test_without_retry_after_the_waits_double():
    server = Server(error(503, []))
    client, sleeps = server.client()
    with pytest.raises(ServiceUnavailable):
        client.sample_png("dcgan-mnist")  # a GET: retried even without a seed
    assert sleeps == [0.25, 0.5, 1.0] and len(server.requests) == 4


def test_a_seedless_generate_is_never_sent_twice():
    server = Server(error(429, [], "over the limit", retry_after="1"), images_answer())
    client, sleeps = server.client()
    with pytest.raises(RateLimited, match="over the limit") as info:
        client.generate("dcgan-mnist", n=1)
    assert len(server.requests) == 1 and sleeps == [] and info.value.retry_after == 1.0
    server = Server(httpx.ConnectError("refused"), images_answer())
    client, sleeps = server.client()
    with pytest.raises(ServiceUnreachable):
        client.generate_png("dcgan-mnist")
    assert len(server.requests) == 1
    # the same with a seed (or seeds) is the same request twice: retried
    server = Server(error(429, [], retry_after="1"), httpx.ConnectError("refused"), images_answer(2))
    client, sleeps = server.client()
    assert len(client.generate("dcgan-mnist", seeds=[4, 9])) == 2 and sleeps == [1.0, 0.5]


@pytest.mark.parametrize(("method", "path", "body", "repeatable"), [
    ("GET", "/models", None, True),
    ("GET", "/models/dcgan-mnist/sample.png", None, True),
    ("POST", "/generate", {"model": "m"}, False),
    ("POST", "/generate", {"model": "m", "seed": 0}, True),
    ("POST", "/generate", {"model": "m", "seeds": [1]}, True),
    ("POST", "/latent/arithmetic", {"model": "m"}, True),
    ("POST", "/latent/interpolate", {"model": "m"}, True),
    ("POST", "/infogan/sweep", {"model": "m"}, True),
    ("POST", "/infogan/encode", {"model": "m"}, True),
    ("POST", "/admin/reload", {}, False),
])
def test_which_requests_are_repeatable(method, path, body, repeatable):
    assert Call(method, path, lambda r: r, json=body).repeatable is repeatable


def test_a_read_timeout_is_not_retried_a_refused_connection_is():
    server = Server(httpx.ReadTimeout("slow"), httpx.Response(200, json=[CARD]))
    client, sleeps = server.client()
    with pytest.raises(ServiceUnreachable, match="cannot reach"):
        client.models()
    assert len(server.requests) == 1
    server = Server(httpx.ConnectError("refused"), httpx.Response(200, json=[CARD]))
    client, sleeps = server.client()
    assert client.models()[0].name == "dcgan-mnist" and sleeps == [0.25]


def test_the_api_key_is_sent_from_the_argument_or_the_environment(monkeypatch):
    server = Server(httpx.Response(200, json={"status": "ok"}))
    monkeypatch.delenv("GAN_API_KEY", raising=False)
    assert server.client()[0].health()
    monkeypatch.setenv("GAN_API_KEY", "from-env")
    assert server.client()[0].health()
    assert server.client(api_key="given")[0].health()
    assert [r.headers.get("authorization") for r in server.requests] == [None, "Bearer from-env", "Bearer given"]


def test_errors_name_the_field():
    server = Server(error(422, ["body", "terms", 0, "seeds"], "List should have at least 1 item"))
    client, _ = server.client()
    with pytest.raises(InvalidRequest, match=r"terms\.0\.seeds: List should have") as info:
        client.arithmetic("dcgan-mnist", [{"seeds": []}])
    assert info.value.field == "terms.0.seeds" and info.value.status == 422
    assert info.value.detail == [{"loc": ["body", "terms", 0, "seeds"], "msg": "List should have at least 1 item",
                                  "type": "x"}]
    server = Server(error(422, ["query", "n"], "n must be at most 256, got 300"))
    with pytest.raises(InvalidRequest, match="n: n must be at most 256") as info:
        server.client()[0].sample_png("dcgan-mnist", n=300)
    assert info.value.field == "n"
    server = Server(error(401, ["header", "authorization"], "a valid API key is required"))
    with pytest.raises(Unauthorized) as info:
        server.client()[0].models()
    assert info.value.field == "authorization" and isinstance(info.value, GanClientError)
    server = Server(httpx.Response(502, text="<html>bad gateway</html>"))
    with pytest.raises(GanClientError, match="502 from /models: <html>bad gateway") as info:
        server.client()[0].models()
    assert info.value.field is None and info.value.detail == []


def test_numpy_numbers_are_taken_where_numbers_are():
    server = Server(images_answer(4))
    client, _ = server.client()
    client.generate("cgan-mnist", n=np.int64(4), seed=np.uint32(5), label=np.int32(7),
                    codes=np.array([0.5, -1.0], dtype=np.float32))
    client.generate("cgan-mnist", seeds=np.arange(3), labels=[np.int8(1), 2, 3])
    client.interpolate("dcgan-mnist", start=np.int64(1), end=np.zeros(4, dtype=np.float32), steps=np.int16(3))
    client.arithmetic("dcgan-mnist", [{"seeds": np.array([1, 2]), "weight": np.float64(-1)}], neighbors=np.int64(2))
    client.sweep("infogan-mnist", vary=np.int64(1), seed=np.int64(3), steps=np.int64(3))
    first, seeds, walk, arithmetic, sweep = server.bodies()
    assert first == {"model": "cgan-mnist", "n": 4, "seed": 5, "label": 7, "codes": [0.5, -1.0], "format": "json"}
    assert type(first["n"]) is int and seeds["seeds"] == [0, 1, 2] and seeds["labels"] == [1, 2, 3]
    assert walk["start"] == {"seed": 1} and walk["end"] == {"z": [0.0] * 4} and walk["steps"] == 3
    assert arithmetic["terms"] == [{"seeds": [1, 2], "weight": -1.0}] and arithmetic["neighbors"] == 2
    assert sweep["vary"] == 1 and sweep["seed"] == 3
    server = Server(httpx.Response(200, content=png_bytes()))
    server.client()[0].sample_png("cgan-mnist", seed=np.int64(8), n=np.int64(4), label=np.int64(3), codes=[-1, 0.5])
    assert dict(server.requests[0].url.params) == {"seed": "8", "n": "4", "label": "3", "codes": "-1,0.5",
                                                   "scale": "1"}


def test_encode_takes_a_path_bytes_a_pil_image_or_an_array(tmp_path):
    answer = {"model": "infogan-mnist", "category": 3, "probabilities": [0.1, 0.9], "digit": 6,
              "digit_probabilities": [0.1] * 10, "codes": [-0.5, 0.25], "seen": base64.b64encode(png_bytes(9)).decode(),
              "model_version": "abc"}
    server = Server(httpx.Response(200, json=answer))
    client, _ = server.client()
    path = tmp_path / "digit.png"
    path.write_bytes(png_bytes(200))
    reads = [client.encode("infogan-mnist", x) for x in (path, str(path), path.read_bytes(), Image.open(path),
                                                         np.full((28, 28, 1), 200, np.uint8))]
    sent = [base64.b64decode(b["image"]) for b in server.bodies()]
    assert sent[0] == sent[1] == sent[2] == path.read_bytes()
    assert all(np.asarray(Image.open(io.BytesIO(s))).tolist() == [[200] * 28] * 28 for s in sent)
    read = reads[0]
    assert (read.category, read.digit, read.codes, read.model_version) == (3, 6, [-0.5, 0.25], "abc")
    assert read.seen.size == (28, 28) and read.summary() == "digit 6 (category 3, p 0.90); codes -0.5, 0.25"


def test_the_async_client_shares_the_requests_and_the_retries():
    server = Server(error(503, [], retry_after="1"), images_answer(2), error(503, [], retry_after="1"))
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def go():
        async with AsyncGanClient("http://gan.test", api_key="k", transport=httpx.MockTransport(server),
                                  sleep=sleep) as client:
            got = await client.generate("dcgan-mnist", n=2, seed=np.int64(1))
            with pytest.raises(ServiceUnavailable):
                await client.generate("dcgan-mnist", n=2)  # no seed: not retried
            return got

    got = asyncio.run(go())
    assert [s.seed for s in got] == [0, 1] and sleeps == [1.0] and len(server.requests) == 3
    assert server.requests[0].headers["authorization"] == "Bearer k"
    assert server.bodies()[0] == {"model": "dcgan-mnist", "n": 2, "seed": 1, "format": "json"}


# --- the command line ------------------------------------------------------------------------------------------
def test_negative_codes_and_options_after_the_command_parse():
    args = parse_args(["generate", "--model", "infogan-mnist", "--codes", "-1,0.5", "-o", "-", "--url", "http://h:1",
                       "--api-key", "k"])
    assert args.codes == [-1.0, 0.5] and args.url == "http://h:1" and args.api_key == "k" and str(args.output) == "-"
    assert parse_args(["--url", "http://before", "models"]).url == "http://before"  # not overwritten by the command
    assert parse_args(["sweep", "--model", "m", "--codes=-.5", "-o", "x.png"]).codes == [-0.5]
    assert parse_args(["models"]).url is None and parse_args(["models"]).api_key is None


def fake_server(monkeypatch, server: Server) -> None:
    """``main`` builds its GanClient on the mock transport."""
    real = GanClient
    monkeypatch.setattr(cli_module, "GanClient", lambda url, **kw: real(url, transport=httpx.MockTransport(server),
                                                                        **kw))


def test_dash_o_dash_writes_the_png_to_standard_output(monkeypatch, capsysbinary):
    png = png_bytes(77)
    server = Server(httpx.Response(200, content=png, headers={"content-type": "image/png"}))
    fake_server(monkeypatch, server)
    assert main(["sample", "--model", "infogan-mnist", "--seed", "3", "--codes", "-1,0.5", "-o", "-",
                 "--url", "http://after.test", "--api-key", "k"]) == 0
    out = capsysbinary.readouterr()
    assert out.out == png and out.err == b""
    request = server.requests[0]
    assert request.url.host == "after.test" and request.headers["authorization"] == "Bearer k"
    assert request.url.path == "/models/infogan-mnist/sample.png" and request.url.params["codes"] == "-1.0,0.5"


def test_a_missing_output_folder_is_one_line_and_no_request(monkeypatch, tmp_path, capsys):
    server = Server(httpx.Response(200, content=png_bytes()))
    fake_server(monkeypatch, server)
    missing = tmp_path / "nope" / "x.png"
    assert main(["generate", "--model", "gan-mnist", "-o", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gan-client: ") and str(tmp_path / "nope") in err and err.count("\n") == 1
    assert "Traceback" not in err and server.requests == []
    assert main(["encode", "--model", "infogan-mnist", str(tmp_path / "absent.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gan-client: ") and "absent.png" in err and err.count("\n") == 1


def test_cli_encode_prints_a_line_or_json(monkeypatch, tmp_path, capsys):
    answer = {"model": "infogan-mnist", "category": 3, "probabilities": [0.2, 0.8], "digit": None,
              "digit_probabilities": None, "codes": [0.5, -1.0], "seen": base64.b64encode(png_bytes()).decode(),
              "model_version": "v1"}
    fake_server(monkeypatch, Server(httpx.Response(200, json=answer)))
    path = tmp_path / "d.png"
    path.write_bytes(png_bytes(255))
    assert main(["encode", "--model", "infogan-mnist", str(path)]) == 0
    assert capsys.readouterr().out == "category 3 (p 0.80); codes 0.5, -1\n"
    assert main(["encode", "--model", "infogan-mnist", str(path), "--json"]) == 0
    told = json.loads(capsys.readouterr().out)
    assert told == {k: v for k, v in answer.items() if k != "seen"}
