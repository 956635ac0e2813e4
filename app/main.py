"""The FastAPI app: ``create_app(settings)`` builds it (tests make their own); ``app`` is the one built from the
environment's settings (app/config.py), made on first use, for the usual ways of serving a FastAPI app:

    gan-serve --host 0.0.0.0 --port 8000                 # uvicorn with the limits of app/server.py (app/cli.py)
    uvicorn app.main:app                                 # any server that imports app.main:app
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.admin import router as admin_router
from app.compression import TextCompression
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
)
from app.openapi import install_openapi
from app.pages import install_pages
from app.routes import router
from app.service import GanService
from app.watcher import start_watching

log = logging.getLogger("gan_studio")


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
        # The service's observability is its own (GET /metrics, the access log); FastAPI's native OpenTelemetry
        # hooks, left on, asked OpenTelemetry for its providers on every request (tests/app/test_fastpath.py).
        telemetry={"tracing": False, "metrics": False, "logs": False},
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
    install_pages(app)
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
