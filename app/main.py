"""The FastAPI app: ``gan-serve --host 0.0.0.0 --port 8000`` (uvicorn with the limits in app/server.py).

All settings come from the environment (see app/config.py), e.g. GAN_CHECKPOINT_DIR, GAN_DEVICE.
"""

from __future__ import annotations

import argparse
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from app.api import bench_router, router
from app.config import Settings
from app.fastpath import GenerateFastPath
from app.http import AccessControlMiddleware, BodyGuardMiddleware, RequestContextMiddleware, error_body
from app.logs import setup_logging
from app.metrics import Metrics
from app.service import GanService, ServiceError

STATIC_DIR = Path(__file__).resolve().parent / "static"
log = logging.getLogger("gan_studio")


def docs_assets() -> Path:
    """Swagger UI and ReDoc, from the pinned fastapi-offline package: /docs and /redoc work offline."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).resolve().parent / "static"


# The docs pages may load nothing from outside the app (ReDoc's footer asks a CDN for a logo: refused).
DOCS_CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-inline' blob:; worker-src 'self' blob:; font-src 'self' data:")


def error(status: int, msg: str, loc: list, kind: str, headers: dict[str, str] | None = None) -> Response:
    return Response(error_body(status, msg, loc, kind), status_code=status, headers=headers,
                    media_type="application/json")


HTTP_KINDS = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
              408: "timeout", 413: "too_large", 415: "unsupported_media_type", 429: "rate_limited",
              503: "unavailable"}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    setup_logging(settings.log_level, settings.log_format)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = GanService(settings, on_batch=metrics.observe_batch, alone=lambda: metrics.in_flight <= 1)
        service.load_all()
        await service.start()
        app.state.service = service
        # Everything loaded so far (torch, the models) lives as long as the process: out of the collector's
        # sight, a full collection walks only request garbage (it took 100+ ms pauses walking it all).
        gc.collect()
        gc.freeze()
        log.info("serving %d models on %s; unavailable: %s", len(service.models), service.device,
                 sorted(service.unavailable) or "none")
        yield
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
    if settings.bench_routes:
        app.include_router(bench_router)
    # Innermost first: the fast path and the body guard sit next to the routes, request ids and the access log
    # outermost.
    if settings.fast_path:
        app.add_middleware(GenerateFastPath)
    app.add_middleware(BodyGuardMiddleware, max_bytes=settings.max_body_bytes, timeout_s=settings.body_timeout_s)
    if settings.api_keys or settings.rate_limit:
        app.add_middleware(AccessControlMiddleware, api_keys=settings.api_keys, rate_limit=settings.rate_limit)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
                           expose_headers=["X-Request-ID", "X-Seed", "X-Generation-Ms", "Retry-After"])
    app.add_middleware(RequestContextMiddleware, metrics=metrics)

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> Response:
        if exc.field is None:
            loc: list = []
        elif request.method == "GET":  # GET /models/{name}/sample.png: the name is in the path, the rest in the query
            loc = ["path", "name"] if exc.field == "model" else ["query", exc.field]
        else:
            loc = ["body", *(int(part) if part.isdecimal() else part for part in exc.field.split("."))]
        kind = {404: "not_found", 503: "unavailable"}.get(exc.status, "value_error")
        return error(exc.status, exc.message, loc, kind, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default, minus the echoed input (which can be a large or binary body).
        detail = [{k: v for k, v in e.items() if k in ("loc", "msg", "type", "ctx")} for e in exc.errors()]
        return JSONResponse({"detail": jsonable(detail)}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        loc = ["body"] if exc.status_code in (400, 408, 413) else []
        return error(exc.status_code, str(exc.detail), loc, HTTP_KINDS.get(exc.status_code, "error"), exc.headers)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error")
        return error(500, "internal error; the server log has it under this request's X-Request-ID", [],
                     "internal_error")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/docs-assets", StaticFiles(directory=docs_assets()), name="docs-assets")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    @app.get("/docs", include_in_schema=False)
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


def jsonable(value):
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def serve(argv: list[str] | None = None) -> None:
    """Console script: ``gan-serve --host 0.0.0.0 --port 8000``, or on Ray Serve:
    ``gan-serve --engine ray --replicas 2`` (its options: ``gan-serve --engine ray --help``)."""
    parser = argparse.ArgumentParser(description="Serve the GAN Studio API and demo page.")
    parser.add_argument("--engine", choices=["uvicorn", "ray"], default="uvicorn",
                        help="uvicorn (GAN_WORKERS processes on this machine) or ray (replicas on a Ray cluster)")
    engine, rest = parser.parse_known_args(argv)
    if engine.engine == "ray":
        try:
            from app.ray_serve import run as run_on_ray
        except ImportError as e:
            parser.error(f"--engine ray needs Ray Serve: pip install -e '.[ray]' ({e})")
        return run_on_ray(rest)
    from app.server import run

    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    run(args.host, args.port, Settings())


if __name__ == "__main__":
    serve()
