"""ASGI middleware around the routes: request ids and the access log, access control, and the body guard.

Every error any of them answers has the one error shape of the API: ``{"detail": [{"loc", "msg", "type"}]}``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import math
import re
import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import send_error
from app.ids import new_request_id
from app.logs import request_id
from app.metrics import Metrics

access_log = logging.getLogger("gan_studio.access")
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value
    return None


def route_of(scope: Scope) -> str:
    """The route template (``/models/{name}``), never the raw path: metric labels and log fields stay a fixed set."""
    return getattr(scope.get("route"), "path", None) or "unmatched"


def method_of(scope: Scope) -> str:
    return scope["method"] if scope["method"] in KNOWN_METHODS else "other"


class RequestContextMiddleware:
    """Takes the client's ``X-Request-ID`` (or makes one), echoes it, puts it on every log line of the
    request, writes one access-log line per request (method, route, status, duration, model, n) and counts
    the request in the metrics under its route template, never its raw path."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = (header(scope, b"x-request-id") or b"").decode("latin-1")
        rid = given if REQUEST_ID.fullmatch(given) else new_request_id()
        token = request_id.set(rid)
        info: dict = scope.setdefault("state", {}).setdefault("access", {})
        start, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        self.metrics.in_flight += 1
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.metrics.in_flight -= 1
            seconds, method, route = time.perf_counter() - start, method_of(scope), route_of(scope)
            self.metrics.observe_request(method, route, status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access_log.info("%s %s %s %.1f ms", method, route, status, seconds * 1000, extra={
                    "method": method, "route": route, "status": status, "duration_ms": round(seconds * 1000, 2),
                    "model": info.get("model"), "n": info.get("n"), "client": client[0] if client else None})
            request_id.reset(token)


OPEN_PATHS = ("/healthz", "/readyz", "/", "/favicon.ico", "/docs", "/redoc", "/openapi.json")
OPEN_PREFIXES = ("/static/", "/docs-assets/")
OWN_KEYS = ("/admin/",)  # routes that check keys of their own (GAN_ADMIN_KEYS; app/admin.py)


def client_bucket(scope: Scope) -> str:
    """Whose requests are counted together without a key: an IPv4 address (a v4-mapped IPv6 one as IPv4), an IPv6
    client's /64 (one household or host gets one of those, not one address), loopback as one; anything that does not
    parse as an address (a forwarded header's garbage) shares one bucket."""
    client = scope.get("client")
    try:
        ip = ipaddress.ip_address((client[0] if client else "").strip("[]"))
    except ValueError:
        return "ip:invalid"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "ip:loopback"
    if isinstance(ip, ipaddress.IPv6Address):
        return f"ip:{ipaddress.IPv6Network((ip, 64), strict=False)}"
    return f"ip:{ip}"


class AccessControlMiddleware:
    """With API keys set, every route but health, the demo page's files and the API docs needs
    ``Authorization: Bearer <key>`` (401 otherwise; keys compared in constant time). With a rate limit
    set, each key (or, without keys, each client address) gets that many requests per window (429 with
    Retry-After), counted by the ``limits`` library's moving window. Requests without a valid key count against
    their client's address (``client_bucket``), so that guessing keys is rate-limited too."""

    def __init__(self, app: ASGIApp, api_keys: list[str], rate_limit: str | None) -> None:
        self.app = app
        self.keys = [hashlib.sha256(k.encode()).digest() for k in api_keys]
        self.limit = parse(rate_limit) if rate_limit else None
        self.limiter = MovingWindowRateLimiter(MemoryStorage()) if self.limit else None

    def key_of(self, scope: Scope) -> bytes | None:
        """The sha256 of the presented key when it is one of ours, else None; every key is compared."""
        auth = (header(scope, b"authorization") or b"").decode("latin-1")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        digest = hashlib.sha256(token.strip().encode("utf-8", "replace")).digest()
        found = False
        for key in self.keys:
            found |= hmac.compare_digest(digest, key)
        return digest if found else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in OPEN_PATHS or path.startswith(OPEN_PREFIXES) \
                or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        own_keys = path.startswith(OWN_KEYS)  # its keys are its own to check; its rate is counted here all the same
        digest = self.key_of(scope) if self.keys and not own_keys else None
        who = "key:" + digest.hex()[:16] if digest is not None else client_bucket(scope)
        if self.limiter is not None and not self.limiter.hit(self.limit, who):
            reset = self.limiter.get_window_stats(self.limit, who).reset_time
            retry = max(1, math.ceil(reset - time.time()))
            await send_error(send, 429, f"rate limit of {self.limit} exceeded (GAN_RATE_LIMIT); retry in {retry} s",
                             [], "rate_limited", {"Retry-After": str(retry)})
            return
        if self.keys and digest is None and not own_keys:
            await send_error(send, 401, "a valid API key is required: Authorization: Bearer <key>",
                             ["header", "authorization"], "unauthorized", {"WWW-Authenticate": "Bearer"})
            return
        await self.app(scope, receive, send)


class HostGuardMiddleware:
    """An HTTP/1.1 request must carry exactly one Host header (RFC 9112 3.2; nginx answers 400 too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("http_version") == "1.1":
            hosts = sum(1 for key, _ in scope.get("headers", []) if key == b"host")
            if hosts != 1:
                await send_error(send, 400, f"an HTTP/1.1 request needs exactly one Host header, not {hosts}",
                                 ["header", "host"], "bad_request", {"Connection": "close"})
                return
        await self.app(scope, receive, send)


class BodyGuardMiddleware:
    """A request body must be at most ``max_bytes`` (413, declared or streamed, chunked included) and
    must arrive within ``timeout_s`` of its headers (408: a client that promises 1000 bytes and sends 24
    is answered, not waited for)."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float) -> None:
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    def too_large(self) -> HTTPException:
        return HTTPException(413, f"request body larger than {self.max_bytes} bytes (GAN_MAX_BODY_BYTES)",
                             headers={"Connection": "close"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await send_error(send, 413, self.too_large().detail, ["body"], "too_large", {"Connection": "close"})
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        received, complete, started, timed_out = 0, False, False, False
        timer: asyncio.TimerHandle | None = None
        reader = asyncio.current_task()

        def time_out() -> None:
            nonlocal timed_out
            timed_out = True
            reader.cancel()

        async def guarded_receive() -> Message:
            nonlocal received, complete, timer, timed_out
            if complete:  # after the body: waiting for the client to disconnect, no deadline
                return await receive()
            if asyncio.current_task() is not reader:  # read from another task: no timer to cancel it by
                try:
                    message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
                except TimeoutError:
                    timed_out = True
                    message = {}
            else:
                # One timer per request, not a wait_for per read: most bodies are whole in the first message.
                timer = timer or loop.call_at(deadline, time_out)
                try:
                    message = await receive()
                except asyncio.CancelledError:
                    if not timed_out:
                        raise
                    reader.uncancel()
                    message = {}
            if timed_out:
                raise HTTPException(408, f"the request body did not arrive within {self.timeout_s:g} s "
                                    "(GAN_BODY_TIMEOUT_S)", headers={"Connection": "close"})
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise self.too_large()
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            if complete and timer is not None:
                timer.cancel()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracking_send)
        except HTTPException as e:  # raised where no exception handler sits (outside a route)
            if started or e.status_code not in (408, 413):
                raise
            kind = "too_large" if e.status_code == 413 else "timeout"
            await send_error(send, e.status_code, e.detail, ["body"], kind, {"Connection": "close"})
