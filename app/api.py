"""HTTP routes: validate, call the service, shape the response. No torch work happens here."""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from app.schemas import (
    MAX_SEED,
    ArithmeticRequest,
    GenerateRequest,
    InterpolateRequest,
    SweepRequest,
)
from app.service import Frames, GanService, ServiceError
from models.images import grid_array, png_bytes

PNG_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}, "application/json": {}},
          "description": "a PNG (a grid when there are several images), or JSON with base64 PNGs"},
    404: {"description": "unknown model"},
    413: {"description": "request body too large"},
    422: {"description": "a field out of range, or not valid for this model"},
    503: {"description": "model unavailable or busy"},
}

def get_service(request: Request) -> GanService:
    return request.app.state.service

ServiceDep = Annotated[GanService, Depends(get_service)]
router = APIRouter()

def encode(frames: Frames, fmt: str, model: str, scale: int, started: float) -> Response:
    """PNG or JSON from frames; called in a worker thread (PNG encoding is CPU work)."""
    headers = {"X-Generation-Ms": f"{(time.perf_counter() - started) * 1000:.1f}"}
    if "seed" in frames.extra:
        headers["X-Seed"] = str(frames.extra["seed"])
    if fmt == "png":
        array = frames.images[0] if len(frames.images) == 1 else grid_array(frames.images, frames.columns)
        return Response(png_bytes(array, scale), media_type="image/png", headers=headers)
    extra = dict(frames.extra)
    if "term_images" in extra:
        extra["terms"] = [t | {"png": b64png(img, scale)} for t, img in zip(extra["terms"], extra.pop("term_images"),
                                                                          strict=True)]
    images = [info | {"png": b64png(img, scale)} for info, img in zip(frames.info, frames.images, strict=True)]
    body = {"model": model, **extra, "images": images,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 1)}
    return JSONResponse(body, headers=headers)

ImageRequest = GenerateRequest | ArithmeticRequest | InterpolateRequest | SweepRequest


INLINE_PIXELS = 4096  # encoding this little takes tens of microseconds, less than a hop to a worker thread


async def respond(req: ImageRequest, work: Awaitable[Frames]) -> Response:
    """Awaits the service's frames, then encodes them: small outputs inline, larger ones in a worker thread."""
    started = time.perf_counter()
    frames = await work
    if frames.images.size * req.scale**2 <= INLINE_PIXELS:
        return encode(frames, req.format, req.model, req.scale, started)
    return await run_in_threadpool(encode, frames, req.format, req.model, req.scale, started)


def b64png(image, scale: int) -> str:
    return base64.b64encode(png_bytes(image, scale)).decode()

@router.get("/healthz", tags=["health"])
async def healthz() -> dict[str, str]:
    """Alive."""
    return {"status": "ok"}

@router.get("/readyz", tags=["health"])
async def readyz(service: ServiceDep) -> JSONResponse:
    """Ready when at least one model is loaded; lists the models that failed to load."""
    ready = bool(service.models)
    body = {"ready": ready, "models": sorted(service.models), "unavailable": service.unavailable,
            "device": str(service.device)}
    return JSONResponse(body, status_code=200 if ready else 503)

@router.get("/models", tags=["models"])
async def list_models(service: ServiceDep) -> list[dict[str, Any]]:
    """Every loaded model's card: family, sizes, codes and measured quality."""
    return [m.public_card() for m in service.models.values()]

@router.get("/models/{name}", tags=["models"])
async def get_model(name: str, service: ServiceDep) -> dict[str, Any]:
    return service.get(name).public_card()

@router.post("/generate", tags=["generate"], responses=PNG_RESPONSE)
async def generate(req: GenerateRequest, service: ServiceDep) -> Response:
    """Images from seeds: image i of a request with seed s is the image of seed s + i."""
    return await respond(req, service.generate(req))

@router.get("/models/{name}/sample.png", tags=["generate"], responses=PNG_RESPONSE)
async def sample_png(
    name: str,
    service: ServiceDep,
    seed: Annotated[int | None, Query(ge=0, le=MAX_SEED)] = None,
    n: Annotated[int, Query(ge=1)] = 1,
    label: Annotated[int | None, Query(ge=0, le=255)] = None,
    category: Annotated[int | None, Query(ge=0, le=255)] = None,
    codes: Annotated[str | None, Query(description="comma-separated floats, e.g. 0.5,-1")] = None,
    columns: Annotated[int | None, Query(ge=1, le=64)] = None,
    scale: Annotated[int, Query(ge=1, le=16)] = 1,
) -> Response:
    """The same as POST /generate with format png, for links and <img> tags."""
    try:
        code_values = None if codes is None else [float(v) for v in codes.split(",")]
    except ValueError:
        raise ServiceError(422, "codes must be comma-separated numbers", "codes") from None
    req = GenerateRequest.model_validate({"model": name, "seed": seed, "n": n, "label": label, "category": category,
                                          "codes": code_values, "columns": columns, "scale": scale})
    return await generate(req, service)

@router.post("/latent/arithmetic", tags=["latent"], responses=PNG_RESPONSE)
async def arithmetic(req: ArithmeticRequest, service: ServiceDep) -> Response:
    """Sum over terms of weight x mean z of the term's seeds (or its z), plus noisy neighbours."""
    return await respond(req, service.arithmetic(req))

@router.post("/latent/interpolate", tags=["latent"], responses=PNG_RESPONSE)
async def interpolate(req: InterpolateRequest, service: ServiceDep) -> Response:
    """Frames from the start latent to the end latent (slerp or lerp); conditional inputs blend too."""
    return await respond(req, service.interpolate(req))

@router.post("/infogan/sweep", tags=["infogan"], responses=PNG_RESPONSE)
async def sweep(req: SweepRequest, service: ServiceDep) -> Response:
    """A grid: rows = categories and columns = values of one continuous code, or columns = categories."""
    return await respond(req, service.sweep(req))

CONSTANT_PNG = png_bytes(grid_array(np.zeros((1, 28, 28, 1), np.uint8)))


@router.post("/bench/constant.png", include_in_schema=False)
async def constant_png(req: GenerateRequest) -> Response:
    """The HTTP floor for the benchmark: the same request parsing, a fixed PNG, no generation."""
    return Response(CONSTANT_PNG, media_type="image/png")


@router.get("/metrics", tags=["health"])
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    return Response(request.app.state.metrics.render(), media_type="text/plain; version=0.0.4")
