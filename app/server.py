"""The HTTP server: uvicorn with deliberate limits, the way nginx sets them.

- ``GAN_HEADER_TIMEOUT_S`` (nginx's client_header_timeout): a connection must deliver a request's headers
  within this, or it gets a 408 and is closed (a client sending one byte every few seconds included).
- ``GAN_BODY_TIMEOUT_S`` (client_body_timeout): the body must follow within this (app.http.BodyGuardMiddleware).
- ``GAN_KEEP_ALIVE_S`` (keepalive_timeout): idle keep-alive connections close after this.
- ``GAN_MAX_CONNECTIONS`` (worker_connections), kept below the process's file-descriptor limit: past it the
  oldest connection that is idle or still sending its request is closed to make room (nginx reuses such
  connections the same way), so the server keeps accepting and answering when slow clients pile up;
  when every connection is busy with a request, the newcomer gets uvicorn's 503 (its concurrency limit).
- ``GAN_WORKERS`` (worker_processes): processes sharing the listening socket, each with its own models and
  micro-batcher; the event loop of one Python process is the limit on a CPU, so two workers on two cores
  serve about 1.5x the requests of one (docs/benchmarks.md). Metrics and rate limits are then per worker.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.http import error_body

log = logging.getLogger("gan_studio")
FD_RESERVE = 64  # descriptors kept for everything but client sockets (checkpoints, logs, the listening socket)


def raise_fd_limit() -> int:
    """Raises the soft file-descriptor limit to the hard one (nginx's worker_rlimit_nofile); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def raw_error(status: int, reason: str, msg: str, kind: str) -> bytes:
    """An error in the API's one shape, written straight to the socket (no request reached the app)."""
    body = error_body(status, msg, ["header"], kind)
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\nconnection: close\r\n"
            f"content-length: {len(body)}\r\n\r\n").encode() + body


def timeout_response(timeout_s: float) -> bytes:
    return raw_error(408, "Request Timeout", f"the request headers did not arrive within {timeout_s:g} s "
                     "(GAN_HEADER_TIMEOUT_S)", "timeout")


class GuardedProtocol:
    """Mixed into uvicorn's HTTP protocol classes (h11 and httptools alike): the header timeout and the
    connection cap, read from the uvicorn config (so they reach worker processes with it). A connection is
    *waiting* while it has no request in progress."""

    connections: set[Any]
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    cycle: Any

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)  # type: ignore[call-arg]
        self.header_timeout_s: float = getattr(config, "gan_header_timeout_s", 10.0)
        self.max_connections: int = getattr(config, "gan_max_connections", 1000)

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self.opened_at, self.pending_bytes, self.header_timer = self.loop.time(), 0, None
        self.arm_header_timer()
        if len(self.connections) > self.max_connections:
            self.make_room()

    def waiting(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def data_received(self, data: bytes) -> None:
        if self.waiting():
            self.pending_bytes += len(data)
        super().data_received(data)  # type: ignore[misc]

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self.pending_bytes = 0
        self.arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
        super().connection_lost(exc)  # type: ignore[misc]

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


def uvicorn_config(host: str, port: int, settings: Any) -> uvicorn.Config:
    fd_limit = raise_fd_limit()
    max_connections = max(8, min(settings.max_connections, fd_limit - FD_RESERVE))
    if max_connections < settings.max_connections:
        log.warning("GAN_MAX_CONNECTIONS lowered to %d: the file-descriptor limit is %d", max_connections, fd_limit)
    config = uvicorn.Config(
        "app.main:create_app", factory=True, host=host, port=port, loop="uvloop", http=GuardedHttpToolsProtocol,
        workers=settings.workers,
        limit_concurrency=max_connections + 1,  # reached only when every connection has a request in progress
        timeout_keep_alive=settings.keep_alive_s,
        backlog=2048,
        access_log=False,  # app.http.RequestContextMiddleware writes the access log, with request ids
        log_config=None,  # app.logs configures logging
        server_header=False,
    )
    config.gan_header_timeout_s, config.gan_max_connections = settings.header_timeout_s, max_connections
    return config


def run(host: str, port: int, settings: Any) -> None:
    """Serves until stopped: in this process, or in ``GAN_WORKERS`` processes sharing one socket."""
    config = uvicorn_config(host, port, settings)
    if config.workers > 1:
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        uvicorn.Server(config).run()
