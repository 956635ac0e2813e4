"""gzip for the app's text answers (JSON, HTML, CSS, JS, the OpenAPI document; the browser runtime's WebAssembly too,
14 MB to 3.7), never for PNG, npy or a model's ONNX file: the ASGI middleware ``TextCompression``, added in create_app
just outside the fast path (``app.add_middleware(TextCompression)``) so that the fast path's answers and the route's
are compressed to the same bytes.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipResponder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.middleware import header
from app.responses import NPY_TYPE


class TextCompression:
    """gzip for clients that accept it, on text answers of 1 KB or more (Starlette's GZipResponder does the work).
    PNG is compressed already, npy is the bulk path whose speed matters, and octet-stream (a model's ONNX file) is
    float weights that gzip makes 7% smaller for half a second of a core: an answer of an excluded type is passed on
    as it is, decided from its first message, 3 us more per answer where GZipMiddleware itself added 8 (it makes a
    responder for every request). A compressed answer's ETag is made weak (RFC 9110 8.8.1: gzip bytes and plain
    bytes are two representations), as nginx does; a 304 keeps the route's own tag (If-None-Match compares weakly, so
    either form revalidates, and a 304 has no content type to say whether its body would have been compressed).
    Chunks of 32 KiB or more are compressed on a worker thread, never on the event loop."""

    EXCLUDED = frozenset(t.encode() for t in (*DEFAULT_EXCLUDED_CONTENT_TYPES, NPY_TYPE, "application/octet-stream"))

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    @classmethod
    def excluded(cls, content_type: bytes) -> bool:
        media_type = content_type.partition(b";")[0].strip().lower()
        return media_type in cls.EXCLUDED or media_type.partition(b"/")[0] + b"/*" in cls.EXCLUDED

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or b"gzip" not in (header(scope, b"accept-encoding") or b""):
            await self.app(scope, receive, send)  # nothing to negotiate
            return
        gzip: GZipResponder | None = None

        async def weak_etag(message: Message) -> None:
            if message["type"] == "http.response.start":
                etag = next((v for k, v in message["headers"] if k == b"etag"), b"")
                if etag.startswith(b'"'):
                    headers = MutableHeaders(raw=message["headers"])
                    if headers.get("content-encoding") == "gzip":
                        headers["etag"] = f"W/{etag.decode('latin-1')}"
            await send(message)

        async def choose(message: Message) -> None:
            nonlocal gzip
            if message["type"] == "http.response.start" and not self.excluded(
                    next((v for k, v in message.get("headers", []) if k == b"content-type"), b"")):
                # Level 6, zlib's default: toy1d.json (164 KB) in 4 ms to 23.0 KB; level 9 took 17 ms for 22.3 KB.
                gzip = GZipResponder(self.app, minimum_size=1024, compresslevel=6, thread_minimum_size=32 * 1024)
                gzip.send = weak_etag
            if gzip is None:
                await send(message)
            else:
                await gzip.send_with_compression(message)

        await self.app(scope, receive, choose)
