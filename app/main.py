"""The FastAPI app: ``create_app(settings)`` builds it (tests make their own); ``app`` is the one built from the
environment's settings (app/config.py), made on first use, for the usual ways of serving a FastAPI app:

    gan-serve --host 0.0.0.0 --port 8000                 # uvicorn with the limits of app/server.py (app/cli.py)
    uvicorn app.main:app                                 # any server that imports app.main:app
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipResponder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.admin import router as admin_router
from app.config import Settings
from app.errors import install_handlers
from app.fastpath import GenerateFastPath, reproduces_route
from app.logs import setup_logging
from app.metrics import Metrics
from app.middleware import (
    AccessControlMiddleware,
    BodyGuardMiddleware,
    HostGuardMiddleware,
    RequestContextMiddleware,
    header,
)
from app.openapi import install_openapi
from app.responses import NPY_TYPE
from app.routes import router
from app.service import GanService
from app.watcher import start_watching

STATIC_DIR = Path(__file__).resolve().parent / "static"
log = logging.getLogger("gan_studio")


def docs_assets() -> Path:
    """Swagger UI and ReDoc, from the pinned fastapi-offline package: /docs and /redoc work offline."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).resolve().parent / "static"


PAGE_CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
# The docs pages may load nothing from outside the app (ReDoc's footer asks a CDN for a logo: refused).
DOCS_CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-inline' blob:; worker-src 'self' blob:; font-src 'self' data:")
# /static/NAME?v=VERSION names one file's content for ever; anything else there may be an hour old, then revalidates.
VERSIONED_CACHE = "public, max-age=31536000, immutable"
STATIC_CACHE = "public, max-age=3600"
STATIC_LINK = re.compile(r'(?<=")/static/([\w.-]+)(?=")')


@lru_cache(maxsize=64)
def _content_version(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def asset_version(path: Path, stat: os.stat_result | None = None) -> str:
    """The first 12 hex digits of the file's sha256, hashed again only when its mtime or size changes."""
    stat = stat or path.stat()
    return _content_version(str(path), stat.st_mtime_ns, stat.st_size)


def index_page() -> bytes:
    """index.html with each /static/NAME it links written /static/NAME?v=VERSION: a deploy changes the URL."""
    def versioned(link: re.Match[str]) -> str:
        target = STATIC_DIR / link[1]
        return f"{link[0]}?v={asset_version(target)}" if target.is_file() else link[0]

    return STATIC_LINK.sub(versioned, (STATIC_DIR / "index.html").read_text()).encode()


class StaticAssets(StaticFiles):
    """StaticFiles (ETag, Last-Modified, 304s) with a Cache-Control: a year when ``?v=`` is the file's version."""

    def file_response(self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("v")
        current = asked == [asset_version(Path(full_path), stat_result)]
        response.headers["Cache-Control"] = VERSIONED_CACHE if current else STATIC_CACHE
        return response


class TextCompression:
    """gzip for clients that accept it, on text answers of 1 KB or more (Starlette's GZipResponder does the work).
    PNG is compressed already and npy is the bulk path whose speed matters: an answer of an excluded type is passed
    on as it is, decided from its first message, 3 us more per answer where GZipMiddleware itself added 8 (it makes
    a responder for every request). A compressed answer's ETag is made weak (RFC 9110 8.8.1: gzip bytes and plain
    bytes are two representations), as nginx does, and a 304 answers a weak If-None-Match with the weak form.
    Chunks of 32 KiB or more are compressed on a worker thread, never on the event loop."""

    EXCLUDED = frozenset(t.encode() for t in (*DEFAULT_EXCLUDED_CONTENT_TYPES, NPY_TYPE))

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
        asked = header(scope, b"if-none-match") or b""
        gzip: GZipResponder | None = None

        async def weak_etag(message: Message) -> None:
            if message["type"] == "http.response.start":
                etag = next((v for k, v in message["headers"] if k == b"etag"), b"")
                if etag.startswith(b'"'):
                    headers = MutableHeaders(raw=message["headers"])
                    if headers.get("content-encoding") == "gzip" or (message["status"] == 304
                                                                     and b"W/" + etag in asked):
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


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    setup_logging(settings.log_level, settings.log_format)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = GanService(settings, on_batch=metrics.observe_batch, alone=lambda: metrics.in_flight <= 1,
                             on_reload=metrics.observe_reload)
        service.load_all()
        await service.start()
        app.state.service, app.state.loop = service, asyncio.get_running_loop()
        watcher = start_watching(service.registry, settings) if settings.watch else None
        # Everything loaded so far (torch, the models) lives as long as the process: out of the collector's
        # sight, a full collection walks only request garbage (it took 100+ ms pauses walking it all).
        gc.collect()
        gc.freeze()
        log.info("serving %d models on %s; unavailable: %s", len(service.registry.models), service.runner.device,
                 sorted(service.registry.unavailable) or "none")
        yield
        if watcher is not None:
            task, stop = watcher
            stop.set()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await service.stop()

    app = FastAPI(
        title="GAN Studio",
        version="0.1.0",
        description="GAN, DCGAN, CGAN and InfoGAN generators: seeded sampling, digits by label, latent "
        "arithmetic and interpolation, InfoGAN code sweeps. Images come back as PNG or as JSON with base64 PNGs. "
        "Every error has one shape: `{\"detail\": [{\"loc\": [...], \"msg\": \"...\", \"type\": \"...\"}]}`.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.metrics, app.state.settings = metrics, settings
    app.include_router(router)
    if settings.admin_keys:
        app.include_router(admin_router)
    # Innermost first: the fast path and the body guard sit next to the routes, request ids and the access log
    # outermost. Compression is just outside the fast path, so that its answers and the route's are the same bytes.
    if settings.fast_path and reproduces_route():
        app.add_middleware(GenerateFastPath)
    elif settings.fast_path:
        log.warning("POST /generate changed shape (app/fastpath.py SHAPE): its fast path is off")
    app.add_middleware(TextCompression)
    app.add_middleware(BodyGuardMiddleware, max_bytes=settings.max_body_bytes, timeout_s=settings.body_timeout_s)
    if settings.api_keys or settings.rate_limit:
        app.add_middleware(AccessControlMiddleware, api_keys=settings.api_keys, rate_limit=settings.rate_limit)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
                           expose_headers=["X-Request-ID", "X-Seed", "X-Generation-Ms", "Retry-After"])
    app.add_middleware(HostGuardMiddleware)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)

    install_handlers(app)
    install_openapi(app, settings)
    app.mount("/static", StaticAssets(directory=STATIC_DIR), name="static")
    app.mount("/docs-assets", StaticFiles(directory=docs_assets()), name="docs-assets")

    @app.get("/", include_in_schema=False)
    @app.head("/", include_in_schema=False)
    async def index(request: Request) -> Response:
        # The page keeps an API key in the browser: nothing may load from elsewhere, no page may frame it.
        # no-cache: the browser revalidates the page every time, so a deploy's new ?v= links reach it at once.
        page = index_page()
        etag = f'"{hashlib.sha256(page).hexdigest()[:16]}"'
        headers = {"Content-Security-Policy": PAGE_CSP, "X-Frame-Options": "DENY", "Cache-Control": "no-cache",
                   "ETag": etag}
        given = request.headers.get("if-none-match", "")
        if etag in (t.strip().removeprefix("W/") for t in given.split(",")):
            return Response(status_code=304, headers=headers)
        return HTMLResponse(page, headers=headers)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml",
                            headers={"Cache-Control": STATIC_CACHE})

    @app.get("/docs", include_in_schema=False)
    @app.head("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(openapi_url=f"{root}/openapi.json", title="GAN Studio - API",
                                   swagger_js_url=f"{root}/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}/docs-assets/swagger-ui.css",
                                   swagger_favicon_url=f"{root}/favicon.ico")
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(openapi_url=f"{root}/openapi.json", title="GAN Studio - API",
                              redoc_js_url=f"{root}/docs-assets/redoc.standalone.js",
                              redoc_favicon_url=f"{root}/favicon.ico", with_google_fonts=False)
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    return app


_app: FastAPI | None = None


def __getattr__(name: str) -> FastAPI:
    """``app.main:app``, built from the environment's settings on first use (importing this module builds
    nothing: tests and workers call ``create_app`` with their own)."""
    global _app
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _app is None:
        _app = create_app()
    return _app
