"""Hardening, round 3 (issue 25), in process: each attack found sent again, against the app itself."""

from __future__ import annotations

import asyncio
import base64
import io
import json

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.main import create_app
from app.middleware import client_bucket
from tests.helpers import shipped_settings

pytestmark = pytest.mark.unit


def png_b64(img: Image.Image, **save) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **save)
    return base64.b64encode(buf.getvalue()).decode()


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(shipped_settings(watch=False))) as c:
        yield c


def test_many_scans_and_declared_sizes_are_refused_before_decoding(client):
    many_scans = io.BytesIO()
    Image.new("L", (64, 64), 128).save(many_scans, format="JPEG", progressive=True)
    data = many_scans.getvalue()
    sos = data.index(b"\xff\xda")
    hostile = data[:sos] + data[sos:-2] * 1 + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" * 5000 + b"\xff\xd9"
    r = client.post("/infogan/encode", json={"model": "infogan-mnist", "image": base64.b64encode(hostile).decode()})
    assert r.status_code == 422 and "scans; at most 64 (GAN_ENCODE_MAX_SCANS)" in r.json()["detail"][0]["msg"]
    # an 84-byte-like PNG that declares 4000 x 4000 and holds one row
    buf = io.BytesIO()
    Image.new("1", (4000, 4000)).save(buf, format="PNG")
    declared = buf.getvalue()[:200]
    r = client.post("/infogan/encode", json={"model": "infogan-mnist", "image": base64.b64encode(declared).decode()})
    assert r.status_code == 422 and "4000x4000 pixels; at most" in r.json()["detail"][0]["msg"]


def test_a_large_accepted_upload_is_read_shrunk(client):
    img = Image.new("L", (2048, 2048), 255)
    img.paste(0, (700, 300, 1300, 1700))  # a thick dark bar on white: a "1"
    r = client.post("/infogan/encode", json={"model": "infogan-mnist", "image": png_b64(img)})
    assert r.status_code == 200, r.text
    assert Image.open(io.BytesIO(base64.b64decode(r.json()["seen"]))).size == (28, 28)


def test_a_full_upload_queue_is_a_503_with_retry_after():
    with TestClient(create_app(shipped_settings(watch=False, encode_queue=1))) as c:
        decoder = c.app.state.service.decoder
        decoder.taken = 1  # one upload already being read
        r = c.post("/infogan/encode", json={"model": "infogan-mnist", "image": png_b64(Image.new("L", (28, 28)))})
        assert r.status_code == 503 and r.headers["retry-after"] == "1" and "GAN_ENCODE_QUEUE" in r.text
        decoder.taken = 0


def test_past_the_request_deadline_a_503_with_retry_after():
    with TestClient(create_app(shipped_settings(watch=False, request_timeout_s=0.001))) as c:
        r = c.post("/generate", json={"model": "dcgan-mnist", "n": 256, "seed": 1, "format": "json"})
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert "GAN_REQUEST_TIMEOUT_S" in r.json()["detail"][0]["msg"]
        r = c.post("/infogan/encode", json={"model": "infogan-mnist", "image": png_b64(Image.new("L", (900, 900)))})
        assert r.status_code == 503
    with TestClient(create_app(shipped_settings(watch=False))) as c:  # the default leaves room for real work
        assert c.post("/generate", json={"model": "dcgan-mnist", "n": 256, "seed": 1}).status_code == 200


def test_a_huge_number_is_not_quoted_whole(client):
    r = client.post("/generate", content='{"model": "dcgan-mnist", "n": ' + "9" * 4300 + "}",
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and len(r.content) < 600, len(r.content)


def test_head_is_answered_where_get_is(client):
    for path in ("/healthz", "/readyz", "/", "/docs", "/models/dcgan-mnist/sample.png?seed=1"):
        r = client.head(path)
        assert r.status_code == 200 and not r.content, path


def test_the_page_sends_a_content_security_policy_and_no_framing(client):
    r = client.get("/")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"] and r.headers["x-frame-options"] == "DENY"


def test_fullwidth_digits_and_letters_are_read_alike(client):
    def png(label: str) -> bytes:
        return client.post("/generate", json={"model": "cgan-fashion", "label": label, "seed": 3}).content

    assert png("\uff17") == png("7")  # a fullwidth 7
    assert png("\uff53\uff4e\uff45\uff41\uff4b\uff45\uff52") == png("sneaker")  # fullwidth letters


def test_http11_needs_exactly_one_host_header():
    app = create_app(shipped_settings(watch=False))

    async def ask(headers: list[tuple[bytes, bytes]]) -> int:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": "/healthz", "raw_path": b"/healthz", "query_string": b"",
                 "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
                 "headers": headers}
        statuses = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(scope, receive, send)
        return statuses[0]

    assert asyncio.run(ask([])) == 400
    assert asyncio.run(ask([(b"host", b"a"), (b"host", b"b")])) == 400
    assert asyncio.run(ask([(b"host", b"a")])) == 200


@pytest.mark.parametrize(("address", "bucket"), [
    ("203.0.113.7", "ip:203.0.113.7"),
    ("::ffff:203.0.113.7", "ip:203.0.113.7"),  # v4-mapped: the IPv4 client
    ("2001:db8:1:2:aaaa::1", "ip:2001:db8:1:2::/64"),
    ("2001:db8:1:2:bbbb::9", "ip:2001:db8:1:2::/64"),  # one /64, one bucket
    ("127.0.0.1", "ip:loopback"), ("::1", "ip:loopback"), ("::ffff:127.0.0.1", "ip:loopback"),
    ("not an address", "ip:invalid"), ("", "ip:invalid"),
])
def test_client_addresses_are_bucketed_as_networks(address, bucket):
    assert client_bucket({"client": (address, 1)}) == bucket


def test_guessed_keys_are_rate_limited_too():
    with TestClient(create_app(shipped_settings(watch=False, api_keys=["k"], rate_limit="5/minute"))) as c:
        statuses = [c.get("/models", headers={"Authorization": f"Bearer guess-{i}"}).status_code for i in range(8)]
        assert statuses[:5] == [401] * 5 and statuses[5:] == [429] * 3


def test_an_upload_whose_client_left_while_it_waited_is_never_read(monkeypatch):
    import threading
    import time

    import app.decoding

    read, real = [], app.decoding.read_digit
    monkeypatch.setattr(app.decoding, "read_digit", lambda *a: read.append(1) or real(*a))
    body = json.dumps({"model": "infogan-mnist", "image": png_b64(Image.new("L", (28, 28)))}).encode()
    with TestClient(create_app(shipped_settings(watch=False))) as c:
        decoder, gate = c.app.state.service.decoder, threading.Event()
        decoder.pool.submit(gate.wait, 10)  # the pool is busy: the upload below waits its turn

        async def leave() -> list[int]:
            scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                     "scheme": "http", "path": "/infogan/encode", "raw_path": b"/infogan/encode", "query_string": b"",
                     "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
                     "headers": [(b"host", b"t"), (b"content-type", b"application/json"),
                                 (b"content-length", str(len(body)).encode())]}
            messages = [{"type": "http.request", "body": body, "more_body": False}]
            statuses = []

            async def receive():
                if messages:
                    return messages.pop(0)
                await asyncio.sleep(0.2)  # the client leaves while its upload waits
                return {"type": "http.disconnect"}

            async def send(message):
                if message["type"] == "http.response.start":
                    statuses.append(message["status"])

            await c.app(scope, receive, send)
            return statuses

        assert c.portal.call(leave) == [499]  # logged as nginx's "client closed request"
        gate.set()
        time.sleep(0.3)
        assert read == [] and decoder.taken == 0  # never read, and its place is free again


def test_an_upload_waiting_its_turn_is_not_timed_out_for_the_wait():
    """Found in review: the upload time limit counted the time queued behind another upload (a 422 blaming it)."""
    import threading

    with TestClient(create_app(shipped_settings(watch=False, encode_timeout_s=0.3))) as c:
        decoder, gate = c.app.state.service.decoder, threading.Event()
        decoder.pool.submit(gate.wait, 10)
        threading.Timer(0.8, gate.set).start()  # the pool frees after more than the time limit
        r = c.post("/infogan/encode", json={"model": "infogan-mnist", "image": png_b64(Image.new("L", (28, 28)))})
        assert r.status_code == 422 and "no digit found" in r.text  # read, and judged on its own (it is blank)


def test_admin_key_guesses_are_rate_limited_too():
    with TestClient(create_app(shipped_settings(watch=False, api_keys=["k"], admin_keys=["admin"],
                                                rate_limit="3/minute"))) as c:
        statuses = [c.post("/admin/reload", headers={"Authorization": f"Bearer guess-{i}"}).status_code
                    for i in range(5)]
        assert statuses == [401, 401, 401, 429, 429]
