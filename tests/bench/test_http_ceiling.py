"""The HTTP ceiling's bare servers answer what wrk sends: one answer a request, however the bytes arrive."""

from __future__ import annotations

import asyncio

import pytest

from bench.http_ceiling import BODY, HEAD, RawProtocol, bare_app

pytestmark = pytest.mark.unit


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)


def request(body: bytes) -> bytes:
    return b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body


def test_the_raw_protocol_answers_each_request_once_split_or_pipelined():
    protocol, transport = RawProtocol(), Transport()
    protocol.connection_made(transport)
    stream = request(b'{"model":"gan-mnist","seed":1}') + request(b"{}") + b"GET /healthz HTTP/1.1\r\n\r\n"
    for i in range(0, len(stream), 7):  # arriving in pieces that cut headers and bodies
        protocol.data_received(stream[i:i + 7])
    assert transport.written == [HEAD + BODY] * 3
    protocol.data_received(request(b"abc")[:-1])  # a body still short of its length: no answer yet
    assert len(transport.written) == 3


def test_the_bare_asgi_app_reads_the_whole_body_and_answers_the_constant():
    sent: list[dict] = []
    messages = [{"type": "http.request", "body": b"a", "more_body": True}, {"type": "http.request", "body": b"b"}]

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    asyncio.run(bare_app({"type": "http"}, receive, send))
    assert not messages and sent[0]["status"] == 200 and sent[1]["body"] == BODY
