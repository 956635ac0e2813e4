"""The guarded protocol overrides uvicorn internals: check_internals says loudly, by name, when they move; and it
tells a request's handler when its client's connection closes (in process, on a localhost port)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from starlette.requests import Request
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.protocol import DISCONNECT, OVERRIDDEN, GuardedHttpToolsProtocol, GuardedProtocol, check_internals

pytestmark = pytest.mark.unit


def test_the_pinned_uvicorn_has_what_the_guard_overrides():
    check_internals()  # raises otherwise
    for name in OVERRIDDEN:  # and the guard really overrides each of them
        assert name in vars(GuardedProtocol), name
    assert GuardedHttpToolsProtocol.__mro__[1:3] == (GuardedProtocol, HttpToolsProtocol)


def test_a_protocol_that_moved_is_named_in_the_error():
    class Renamed(HttpToolsProtocol):  # as a new uvicorn might: a method gone, another taking other arguments
        on_response_complete = None

        def data_received(self, chunk, more):  # noqa: ARG002
            pass

    with pytest.raises(RuntimeError) as error:
        check_internals(Renamed)
    text = str(error.value)
    assert "on_response_complete is gone" in text and "data_received now takes" in text and "pin" in text


def test_the_server_checks_before_it_serves(monkeypatch):
    import app.server

    def moved(*_):
        raise RuntimeError("uvicorn changed")

    monkeypatch.setattr(app.server, "check_internals", moved)
    from tests.helpers import shipped_settings

    with pytest.raises(RuntimeError, match="uvicorn changed"):
        app.server.uvicorn_config("127.0.0.1", 0, shipped_settings())


# --- the client-left word: Disconnects, the scope's DISCONNECT ------------------------------------------------------
async def served(app, exchange):
    """``app`` behind the guarded protocol on a localhost port in this process; ``exchange(port)`` is the client."""
    import uvicorn
    from uvicorn.server import ServerState

    config = uvicorn.Config(app, http=GuardedHttpToolsProtocol, log_config=None)
    config.load()
    state = ServerState()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: GuardedHttpToolsProtocol(config=config, server_state=state, app_state={}),
                                      "127.0.0.1", 0)
    try:
        return await exchange(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        for connection in list(state.connections):
            connection.transport.close()


REQUEST = b"POST /generate HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


def test_a_handler_hears_that_its_client_left_without_reading_for_it():
    heard, got = asyncio.Event(), {}

    async def app(scope, receive, send):
        await receive()  # the body; nothing reads after it
        got["disconnects"] = scope["extensions"][DISCONNECT]
        got["disconnects"].add(heard.set)
        await asyncio.sleep(30)

    async def leave(port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(REQUEST)
        await writer.drain()
        while "disconnects" not in got:
            await asyncio.sleep(0.01)
        writer.close()
        await asyncio.wait_for(heard.wait(), 5)
        return got["disconnects"]

    disconnects = asyncio.run(served(app, leave))
    assert disconnects.lost and not disconnects.callbacks
    late = []
    async def after():  # a callback added once the connection is gone is called too, soon
        disconnects.loop = asyncio.get_running_loop()
        disconnects.add(lambda: late.append(1))
        await asyncio.sleep(0)
        return late
    assert asyncio.run(after()) == [1]


def test_a_request_that_was_answered_leaves_nothing_behind_on_its_connection():
    from app.responses import guarded

    settings = SimpleNamespace(request_timeout_s=5.0, retry_after_s=1)

    async def app(scope, receive, send):
        await receive()
        request = Request(scope | {"app": SimpleNamespace(state=SimpleNamespace(settings=settings))}, receive)
        body = await guarded(request, asyncio.sleep(0, b"done"))
        scope["state"]["callbacks"] = len(scope["extensions"][DISCONNECT].callbacks)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]})
        await send({"type": "http.response.body", "body": body})
        seen.append(scope)

    seen = []

    async def twice(port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answers = []
        for _ in range(2):  # one keep-alive connection, two requests
            writer.write(REQUEST)
            answers.append(await reader.readuntil(b"done"))
        writer.close()
        return answers

    answers = asyncio.run(served(app, twice))
    assert all(a.startswith(b"HTTP/1.1 200") for a in answers)
    assert [s["state"]["callbacks"] for s in seen] == [0, 0]  # guarded took its callback back each time
    assert seen[0]["extensions"][DISCONNECT] is seen[1]["extensions"][DISCONNECT]  # the connection's one


def test_guarded_work_stops_when_the_connection_closes():
    from app.protocol import Disconnects
    from app.responses import guarded

    async def main():
        disconnects = Disconnects(asyncio.get_running_loop())
        settings = SimpleNamespace(request_timeout_s=5.0, retry_after_s=1)
        scope = {"type": "http", "extensions": {DISCONNECT: disconnects}, "headers": [],
                 "app": SimpleNamespace(state=SimpleNamespace(settings=settings))}
        cancelled = asyncio.Event()

        async def work():
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        async def receive():  # never called on this path: the protocol's word replaces reading for it
            raise AssertionError("guarded read the request for a disconnect")

        handler = asyncio.ensure_future(guarded(Request(scope, receive), work()))
        await asyncio.sleep(0.05)
        assert len(disconnects.callbacks) == 1
        disconnects.fire()
        return await asyncio.wait_for(handler, 5), cancelled.is_set(), disconnects.callbacks

    assert asyncio.run(main()) == (None, True, set())
