"""The FastAPI app: ``uvicorn app.main:app`` or ``gan-serve --host 0.0.0.0 --port 8000``.

All settings come from the environment (see app/config.py), e.g. GAN_CHECKPOINT_DIR, GAN_DEVICE.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from app.api import router
from app.config import Settings
from app.metrics import BodyLimitMiddleware, Metrics, MetricsMiddleware
from app.service import GanService, ServiceError

STATIC_DIR = Path(__file__).resolve().parent / "static"
log = logging.getLogger("gan_studio")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = GanService(settings, on_batch=metrics.observe_batch)
        service.load_all()
        await service.start()
        app.state.service = service
        log.info("serving %d models on %s; unavailable: %s", len(service.models), service.device,
                 sorted(service.unavailable) or "none")
        yield
        await service.stop()

    app = FastAPI(
        title="GAN Studio",
        version="0.1.0",
        description="GAN, DCGAN, CGAN and InfoGAN generators: seeded sampling, digits by label, latent "
        "arithmetic and interpolation, InfoGAN code sweeps. Images come back as PNG or as JSON with base64 PNGs.",
        lifespan=lifespan,
    )
    app.state.metrics, app.state.settings = metrics, settings
    app.include_router(router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outermost: counts the 413s too

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
        if exc.field is None or exc.status in (404, 503):
            return JSONResponse({"detail": exc.message}, status_code=exc.status)
        detail = [{"loc": ["body", *exc.field.split(".")], "msg": exc.message, "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default, minus the echoed input (which can be a large or binary body).
        detail = [{k: v for k, v in e.items() if k in ("loc", "msg", "type", "ctx")} for e in exc.errors()]
        return JSONResponse({"detail": jsonable(detail)}, status_code=422)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    return app


def jsonable(value):
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def serve(argv: list[str] | None = None) -> None:
    """Console script: ``gan-serve --host 0.0.0.0 --port 8000``."""
    import uvicorn

    parser = argparse.ArgumentParser(description="Serve the GAN Studio API and demo page.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    settings = Settings()
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=settings.log_level.lower())


app = create_app()
