"""Every attack found once, sent again: hostile input, slow clients, overload and leaks (issue 10).

Each test talks to a real server process on 127.0.0.1, bounded in requests and seconds.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import time

import httpx
import pytest

from tests.helpers import CHECKPOINTS
from tests.server import running_server

pytestmark = pytest.mark.integration

FAST_TIMEOUTS = {"GAN_CHECKPOINT_DIR": CHECKPOINTS, "GAN_HEADER_TIMEOUT_S": "1", "GAN_BODY_TIMEOUT_S": "1"}


@pytest.fixture(scope="module")
def url():
    with running_server(FAST_TIMEOUTS) as base:
        yield base


@pytest.fixture
def client(url):
    with httpx.Client(base_url=url, timeout=30) as c:
        yield c


def one_error(response: httpx.Response, status: int) -> dict:
    """The one error shape: {"detail": [{"loc": [...], "msg": "...", "type": "..."}]}."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    assert all(isinstance(d["loc"], list) and isinstance(d["msg"], str) and isinstance(d["type"], str) for d in detail)
    return detail[0]


def raw_socket(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def read_all(sock: socket.socket, limit_s: float) -> bytes:
    """Everything the server sends until it closes the connection (or ``limit_s`` runs out)."""
    sock.settimeout(limit_s)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        pass
    return data


# 1. A pydantic error raised inside the GET route was a 500 text/plain.
@pytest.mark.parametrize("query", ["codes=100,0", "codes=nan,0", "codes=inf", "codes=1e308,0",
                                   "codes=" + ",".join(["0"] * 17), "codes=,", "codes=abc,1"])
@pytest.mark.parametrize("model", ["infogan-mnist", "no-such-model"])
def test_bad_query_strings_get_422_pointing_at_the_query(client, model, query):
    err = one_error(client.get(f"/models/{model}/sample.png?{query}"), 422)
    assert err["loc"][:2] == ["query", "codes"], err


def test_good_query_codes_still_work(client):
    r = client.get("/models/infogan-mnist/sample.png?codes=0.5,-1&category=3&seed=1")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"


# 2. Short bodies and slow headers were waited for forever.
def test_a_short_body_is_answered_408_in_bounded_time(url):
    with raw_socket(url) as sock:
        body = b'{"model": "dcgan-mnist"}'  # 24 bytes of the 1000 promised
        sock.sendall(b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n" + body)
        t0 = time.monotonic()
        answer = read_all(sock, 10)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"loc": ["body"]' in answer or b'"loc":["body"]' in answer
    assert time.monotonic() - t0 < 5


def test_headers_sent_one_byte_at_a_time_are_cut_off(url):
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    with raw_socket(url) as sock:
        t0 = time.monotonic()
        try:
            for byte in request:
                sock.sendall(bytes([byte]))
                time.sleep(0.1)
                if time.monotonic() - t0 > 6:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = read_all(sock, 5)
    assert time.monotonic() - t0 < 8
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]


def test_an_idle_connection_is_closed(url):
    with raw_socket(url) as sock:
        t0 = time.monotonic()
        assert read_all(sock, 10) == b""  # closed without a word: nothing had been asked
    assert time.monotonic() - t0 < 5


def test_at_the_file_descriptor_limit_new_requests_are_still_answered(tmp_path):
    """256 descriptors, 300 slow clients holding half-sent requests: a new request is answered in time,
    and the log does not flood."""
    log = tmp_path / "server.log"
    env = {"GAN_CHECKPOINT_DIR": CHECKPOINTS, "GAN_HEADER_TIMEOUT_S": "30"}
    with running_server(env, nofile=256, log_path=log) as url:
        slow = []
        try:
            for _ in range(300):
                s = raw_socket(url)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                slow.append(s)
            for _ in range(3):
                t0 = time.monotonic()
                r = httpx.post(url + "/generate", json={"model": "dcgan-mnist", "seed": 1}, timeout=5)
                assert r.status_code == 200
                assert time.monotonic() - t0 < 2
        finally:
            for s in slow:
                s.close()
        time.sleep(0.5)
    assert log.stat().st_size < 100_000, log.read_text()[-2000:]


# 3. Work for nobody: aborted requests were still computed.
def metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and want in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_requests_whose_clients_left_are_not_computed():
    env = {"GAN_CHECKPOINT_DIR": CHECKPOINTS, "GAN_MAX_BATCH": "256", "GAN_THREADS": "1"}
    with running_server(env) as url:
        before = metric(httpx.get(url + "/metrics").text, "gan_images_generated_total", model="dcgan-mnist")

        async def abort_after_50ms(i: int) -> None:
            async with httpx.AsyncClient(base_url=url) as c:
                try:
                    await c.post("/generate", json={"model": "dcgan-mnist", "n": 256, "seed": i * 256,
                                                    "format": "json"}, timeout=0.05)
                except httpx.TimeoutException:
                    pass

        async def main() -> None:
            await asyncio.gather(*(abort_after_50ms(i) for i in range(40)))

        asyncio.run(main())
        time.sleep(3)  # whatever was still queued would be computed by now
        after = metric(httpx.get(url + "/metrics").text, "gan_images_generated_total", model="dcgan-mnist")
    asked = 40 * 256
    assert after - before < asked / 2, f"{after - before:.0f} of {asked} images computed for clients that left"


def bulk_at_once(settings: dict[str, str], requests: int) -> list[httpx.Response]:
    """``requests`` n=256 requests at once to a server with ``settings`` on top of one torch thread."""
    env = {"GAN_CHECKPOINT_DIR": CHECKPOINTS, "GAN_MAX_BATCH": "256", "GAN_THREADS": "1"} | settings
    with running_server(env) as url:

        async def main() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=url, timeout=60) as c:
                body = {"model": "dcgan-mnist", "n": 256, "format": "json"}
                return await asyncio.gather(*(c.post("/generate", json=body) for _ in range(requests)))

        return asyncio.run(main())


def test_a_request_queued_past_its_deadline_gets_503_with_retry_after():
    responses = bulk_at_once({"GAN_QUEUE_TIMEOUT_MS": "1"}, 8)
    busy = [r for r in responses if r.status_code == 503]
    assert busy and all(r.status_code in (200, 503) for r in responses)
    for r in busy:
        assert int(r.headers["retry-after"]) >= 0
        assert "still queued" in one_error(r, 503)["msg"]


def test_a_full_queue_gets_503_with_retry_after():
    responses = bulk_at_once({"GAN_QUEUE_SIZE": "1", "GAN_RETRY_AFTER_S": "2"}, 12)
    busy = [r for r in responses if r.status_code == 503]
    assert busy and all(r.headers["retry-after"] == "2" for r in busy)
    assert all(r.status_code in (200, 503) for r in responses)


# 4. Unbounded outputs: 320 images from a sweep, an 88-megapixel PNG.
@pytest.mark.parametrize("path,body,field", [
    ("/infogan/sweep", {"model": "infogan-mnist", "vary": 0, "steps": 32}, "steps"),
    ("/infogan/sweep", {"model": "infogan-mnist", "vary": 0, "steps": 25, "scale": 16}, "scale"),
    ("/infogan/sweep", {"model": "infogan-mnist", "vary": "category", "rows": 16, "scale": 16}, "scale"),
    ("/generate", {"model": "dcgan-mnist", "n": 256, "scale": 16}, "scale"),
    ("/generate", {"model": "dcgan-mnist", "n": 257}, "n"),
    ("/generate", {"model": "dcgan-mnist", "n": 256, "scale": 16, "format": "json"}, "scale"),
])
def test_outputs_over_the_limits_get_422_naming_the_limit(client, path, body, field):
    err = one_error(client.post(path, json=body), 422)
    assert err["loc"] == ["body", field]
    assert "GAN_MAX_IMAGES" in err["msg"] or "GAN_MAX_OUTPUT_PIXELS" in err["msg"]


def test_a_get_over_the_limit_names_the_query_field(client):
    err = one_error(client.get("/models/dcgan-mnist/sample.png?n=256&scale=16"), 422)
    assert err["loc"] == ["query", "scale"]


def test_the_largest_allowed_outputs_still_work(client):
    r = client.post("/generate", json={"model": "dcgan-mnist", "n": 256, "scale": 4})
    assert r.status_code == 200
    assert client.post("/infogan/sweep", json={"model": "infogan-mnist", "vary": 0, "steps": 25}).status_code == 200


# 5. Metric labels grew with every made-up HTTP method.
def test_metric_labels_come_from_fixed_sets(client):
    methods = ["PROPFIND", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "PURGE", "REPORT", "SEARCH", "FOO1", "FOO2"]
    for i in range(200):
        client.request(methods[i % len(methods)], f"/made/up/{i}")
        client.get(f"/models/name{i}")
    text = client.get("/metrics").text
    assert not any(m in text for m in methods) and "/made/up" not in text and "name1" not in text
    assert 'method="other"' in text and 'route="/models/{name}"' in text
    assert len(text) < 60_000


# 6. Leaks: paths in /readyz and 503s, a 200 KB name echoed back.
def test_long_names_are_refused_or_cut_never_echoed_whole(client):
    name = "x" * 200_000
    r = client.post("/generate", json={"model": name})
    assert r.status_code == 422 and len(r.content) < 2000
    r = client.get("/models/" + "y" * 5000)
    assert r.status_code == 422 and len(r.content) < 2000
    err = one_error(client.post("/generate", json={"model": "z" * 100}), 404)
    assert len(err["msg"]) < 300 and "dcgan-mnist" in err["msg"]


# 7. Symlinked cards and weights leading out of the checkpoint folder were loaded and served.
def test_symlinks_out_of_the_checkpoint_folder_are_refused(tmp_path):
    folder, outside = tmp_path / "ckpt", tmp_path / "elsewhere"
    folder.mkdir(), outside.mkdir()
    for ext in ("safetensors", "json"):
        shutil.copy(f"{CHECKPOINTS}/dcgan-mnist.{ext}", folder / f"dcgan-mnist.{ext}")
        shutil.copy(f"{CHECKPOINTS}/cgan-mnist.{ext}", outside / f"cgan-mnist.{ext}")
        (folder / f"cgan-mnist.{ext}").symlink_to(outside / f"cgan-mnist.{ext}")
    with running_server({"GAN_CHECKPOINT_DIR": str(folder)}) as url:
        ready = httpx.get(url + "/readyz").json()
        assert ready["models"] == ["dcgan-mnist"]
        assert "symbolic link" in ready["unavailable"]["cgan-mnist"]
        assert str(tmp_path) not in json.dumps(ready)
        assert httpx.post(url + "/generate", json={"model": "cgan-mnist"}).status_code == 503


# 8. The benchmark's route answered in production.
def test_the_benchmark_route_is_off_by_default(client):
    assert client.post("/bench/constant.png", json={"model": "no-such"}).status_code == 404


# 9. A chunked body over the limit got 400, not 413.
def test_chunked_bodies_over_the_limit_get_413(client):
    def chunks():
        yield b'{"model": "dcgan-mnist", "pad": "'
        for _ in range(300):
            yield b"a" * 1024
        yield b'"}'

    err = one_error(client.post("/generate", content=chunks(), headers={"content-type": "application/json"}), 413)
    assert "GAN_MAX_BODY_BYTES" in err["msg"]
    assert one_error(client.post("/generate", content=b"{" + b" " * 300_000 + b"}"), 413)


def test_every_error_has_the_one_shape(client):
    one_error(client.post("/generate", json={"model": "nope"}), 404)
    one_error(client.post("/generate", json={"model": "dcgan-mnist", "n": 0}), 422)
    one_error(client.post("/generate", content=b"{not json", headers={"content-type": "application/json"}), 422)
    one_error(client.get("/no/such/route"), 404)
    one_error(client.put("/generate"), 405)
    one_error(client.request("FOO", "/generate"), 400)  # rejected by the HTTP parser itself


# Access: request ids, CORS, API keys, rate limit.
def test_request_ids_are_echoed_and_logged_with_one_access_line(tmp_path):
    log = tmp_path / "server.log"
    env = {"GAN_CHECKPOINT_DIR": CHECKPOINTS, "GAN_LOG_FORMAT": "json", "GAN_LOG_LEVEL": "info"}
    with running_server(env, log_path=log) as url:
        r = httpx.post(url + "/generate", json={"model": "cgan-mnist", "n": 3, "label": 7},
                       headers={"X-Request-ID": "req-123"})
        assert r.headers["x-request-id"] == "req-123"
        made_up = httpx.get(url + "/healthz").headers["x-request-id"]
        assert len(made_up) >= 8
        hostile = "a b\u00e9".encode("latin-1") * 100
        bad = httpx.get(url + "/healthz", headers={"X-Request-ID": hostile}).headers["x-request-id"]
        assert " " not in bad and len(bad) <= 128
        time.sleep(0.3)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    access = [entry for entry in lines if entry["request_id"] == "req-123" and entry["logger"] == "gan_studio.access"]
    assert len(access) == 1
    assert access[0] | {"duration_ms": 0} == access[0] | {
        "method": "POST", "route": "/generate", "status": 200, "model": "cgan-mnist", "n": 3, "duration_ms": 0}


def test_cors_is_off_by_default_and_on_for_the_listed_origins(client):
    preflight = {"Origin": "https://example.org", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client.options("/generate", headers=preflight).headers
    with running_server({"GAN_CHECKPOINT_DIR": CHECKPOINTS, "GAN_CORS_ORIGINS": "https://example.org"}) as url:
        r = httpx.options(url + "/generate", headers=preflight)
        assert r.headers["access-control-allow-origin"] == "https://example.org"
        other = httpx.options(url + "/generate", headers=preflight | {"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_api_keys_and_the_rate_limit():
    env = {"GAN_CHECKPOINT_DIR": CHECKPOINTS, "GAN_API_KEYS": "key-one, key-two", "GAN_RATE_LIMIT": "5/minute"}
    body = {"model": "dcgan-mnist", "seed": 1}
    with running_server(env) as url, httpx.Client(base_url=url) as c:
        assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200
        assert c.get("/").status_code == 200 and c.get("/static/app.js").status_code == 200
        err = one_error(c.post("/generate", json=body), 401)
        assert err["loc"] == ["header", "authorization"]
        assert c.post("/generate", json=body).headers["www-authenticate"] == "Bearer"
        one_error(c.post("/generate", json=body, headers={"Authorization": "Bearer key-three"}), 401)
        one_error(c.get("/models", headers={"Authorization": "Basic key-one"}), 401)
        two = {"Authorization": "Bearer key-two"}
        assert [c.post("/generate", json=body, headers=two).status_code for _ in range(5)] == [200] * 5
        limited = c.post("/generate", json=body, headers=two)
        one_error(limited, 429)
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # the limit is per key: the other key still has its five
        assert c.get("/models", headers={"Authorization": "Bearer key-one"}).status_code == 200
