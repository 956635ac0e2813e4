"""The guarded HTTP protocol: uvicorn's httptools protocol with a header timeout and a connection cap, and a word
to the request's handler when its client's connection closes (``Disconnects``, the scope's ``DISCONNECT``).

uvicorn has no setting for either, so ``GuardedProtocol`` overrides a few of its protocol's methods
(``connection_made``, ``data_received``, ``on_response_complete``, ``connection_lost``, ``send_400_response``)
and reads a few of its attributes (``connections``, ``transport``, ``loop``, ``cycle``, ``scope``). They are uvicorn's
internals, not its API: the pin in pyproject.toml keeps them, and ``check_internals`` (run by the server at start
and by tests/app/test_protocol.py) fails loudly, naming what moved, when a new uvicorn changes them.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.errors import raw_error

OVERRIDDEN = ("connection_made", "data_received", "on_response_complete", "connection_lost", "send_400_response",
              "on_headers_complete", "on_message_complete")
READ = ("connections", "transport", "loop", "cycle", "scope")


def check_internals(protocol: type = HttpToolsProtocol) -> None:
    """Raises RuntimeError naming each uvicorn internal the guard relies on that ``protocol`` no longer has: a
    method it overrides (with the arguments it passes on) or an attribute it reads."""
    problems = []
    for name in OVERRIDDEN:
        method = getattr(protocol, name, None)
        if not callable(method):
            problems.append(f"method {name} is gone")
    for name, params in (("connection_made", ["self", "transport"]), ("data_received", ["self", "data"]),
                         ("on_response_complete", ["self"]), ("connection_lost", ["self", "exc"]),
                         ("send_400_response", ["self", "msg"]), ("on_headers_complete", ["self"]),
                         ("on_message_complete", ["self"])):
        method = getattr(protocol, name, None)
        if callable(method) and list(inspect.signature(method).parameters) != params:
            problems.append(f"{name} now takes {list(inspect.signature(method).parameters)}, not {params}")
    init = inspect.signature(protocol.__init__).parameters
    if list(init)[:2] != ["self", "config"]:
        problems.append(f"__init__ takes {list(init)}, not (self, config, ...)")
    try:
        source = inspect.getsource(inspect.getmodule(protocol) or protocol)
    except (OSError, TypeError):
        source = ""
        problems.append("its source cannot be read to check the attributes it sets")
    for name in READ:
        if source and f"self.{name}" not in source:
            problems.append(f"attribute {name} is no longer set")
    if source and "response_complete" not in source:
        problems.append("the request cycle has no response_complete")
    if problems:
        raise RuntimeError(f"uvicorn {uvicorn.__version__} changed what app/protocol.py overrides: "
                           + "; ".join(problems) + " (pin the uvicorn the project was tested with)")


DISCONNECT = "gan.disconnect"  # the ASGI scope's extension: this connection's Disconnects (this server's only)


class Disconnects:
    """Callbacks for the moment a connection closes: how a request's handler learns its client has gone without a
    task of its own awaiting ``receive()`` for the ASGI ``http.disconnect`` (a task a request was a fifth of the
    event loop's work on /generate: ``python -m bench.asgi_profile --concurrency 64 --no-forward``, 0.094 -> 0.074 ms).
    ``add(fn)``: ``fn()`` once the connection is lost (soon, when it already is); ``discard(fn)`` takes it back."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop, self.callbacks, self.lost = loop, set[Callable[[], None]](), False

    def add(self, fn: Callable[[], None]) -> None:
        if self.lost:
            self.loop.call_soon(fn)
        else:
            self.callbacks.add(fn)

    def discard(self, fn: Callable[[], None]) -> None:
        self.callbacks.discard(fn)

    def fire(self) -> None:
        self.lost = True
        callbacks, self.callbacks = self.callbacks, set()
        for fn in callbacks:
            fn()


def timeout_response(timeout_s: float) -> bytes:
    return raw_error(408, "Request Timeout", f"the request headers did not arrive within {timeout_s:g} s "
                     "(GAN_HEADER_TIMEOUT_S)", "timeout")


def too_large_response(limit: str) -> bytes:
    return raw_error(431, "Request Header Fields Too Large", f"request line and headers over {limit}", "too_large")


class GuardedProtocol:
    """Mixed into uvicorn's httptools protocol: the header timeout, the connection cap and the header caps, read
    from the uvicorn config (so they reach worker processes with it). A connection is *waiting* while it has no
    request in progress.

    The header caps (``GAN_MAX_HEADER_BYTES`` for the request line and headers together, ``GAN_MAX_HEADERS``
    headers) are counted on the raw bytes before the parser sees them, so a 64 MB header costs the 64 KB it takes
    to refuse it (httptools joins a header's pieces in time that grows with the square of its length): past either,
    a 431 and the connection closes."""

    connections: set[Any]
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    cycle: Any

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)  # type: ignore[call-arg]
        self.header_timeout_s: float = getattr(config, "gan_header_timeout_s", 10.0)
        self.max_connections: int = getattr(config, "gan_max_connections", 1000)
        self.max_header_bytes: int = getattr(config, "gan_max_header_bytes", 65536)
        self.max_headers: int = getattr(config, "gan_max_headers", 100)

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self.opened_at, self.pending_bytes, self.header_timer = self.loop.time(), 0, None
        self.in_headers, self.header_bytes, self.header_lines, self.header_tail = True, 0, 0, b""
        self.disconnects = Disconnects(self.loop)
        self.arm_header_timer()
        if len(self.connections) > self.max_connections:
            self.make_room()

    def waiting(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def data_received(self, data: bytes) -> None:
        if self.waiting():
            self.pending_bytes += len(data)
        if self.in_headers and self.headers_over(data):
            if not self.transport.is_closing():
                limit = f"{self.max_header_bytes} bytes or {self.max_headers} headers (GAN_MAX_HEADER_BYTES, " \
                        "GAN_MAX_HEADERS)"
                self.transport.write(too_large_response(limit))
                self.transport.close()
            return
        super().data_received(data)  # type: ignore[misc]

    def headers_over(self, data: bytes) -> bool:
        """Counts this chunk's bytes and lines up to the end of the headers; True once past a cap."""
        seen = self.header_tail + data
        end = seen.find(b"\r\n\r\n")
        part = data if end < 0 else data[: max(0, end + 4 - len(self.header_tail))]
        self.header_bytes += len(part)
        self.header_lines += part.count(b"\n")
        self.header_tail = seen[-3:]
        return self.header_bytes > self.max_header_bytes or self.header_lines > self.max_headers + 2

    def on_headers_complete(self) -> None:
        self.in_headers = False  # the body is the body guard's to limit
        self.scope.setdefault("extensions", {})[DISCONNECT] = self.disconnects  # type: ignore[attr-defined]
        super().on_headers_complete()  # type: ignore[misc]

    def on_message_complete(self) -> None:
        super().on_message_complete()  # type: ignore[misc]
        self.in_headers, self.header_bytes, self.header_lines, self.header_tail = True, 0, 0, b""  # the next one

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self.pending_bytes = 0
        self.arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
        super().connection_lost(exc)  # type: ignore[misc]
        self.disconnects.fire()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to bytes that are not HTTP, in the API's error shape."""
        if not self.transport.is_closing():
            self.transport.write(raw_error(400, "Bad Request", msg, "bad_request"))
            self.transport.close()

    def arm_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
        self.header_timer = self.loop.call_later(self.header_timeout_s, self.header_timeout)

    def header_timeout(self) -> None:
        self.header_timer = None
        if self.transport.is_closing():
            return
        if not self.waiting():  # a request is being served; its body has its own deadline
            return
        self.drop()

    def drop(self) -> None:
        """Closes a waiting connection: with a 408 when part of a request had arrived, silently when idle."""
        if self.pending_bytes:
            self.transport.write(timeout_response(self.header_timeout_s))
        self.transport.close()

    def make_room(self) -> None:
        waiting = sorted((c for c in self.connections if c is not self and isinstance(c, GuardedProtocol)
                          and c.waiting() and not c.transport.is_closing()), key=lambda c: c.opened_at)
        excess = len(self.connections) - self.max_connections
        for victim in waiting[:excess]:
            victim.drop()
            self.connections.discard(victim)  # counted out now; its connection_lost comes later


class GuardedHttpToolsProtocol(GuardedProtocol, HttpToolsProtocol):
    """uvicorn's httptools protocol with the guard (module level: worker processes unpickle it by name)."""


