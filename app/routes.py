"""HTTP routes: validate, call the service, shape the response. No torch work happens here."""

from __future__ import annotations

import asyncio
import base64
import io
import time
from collections.abc import Awaitable
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from app.errors import ApiError
from app.schemas import (
    MAX_SEED,
    ArithmeticRequest,
    EncodeRequest,
    Encoding,
    ErrorResponse,
    GenerateRequest,
    Health,
    InterpolateRequest,
    ModelCard,
    Readiness,
    SweepRequest,
)
from app.service import Frames, GanService
from models.images import grid_array, png_bytes

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "a request the HTTP layer cannot read"},
    401: {"model": ErrorResponse, "description": "a missing or wrong API key (when GAN_API_KEYS is set)"},
    408: {"model": ErrorResponse, "description": "the body did not arrive within GAN_BODY_TIMEOUT_S"},
    413: {"model": ErrorResponse, "description": "request body over GAN_MAX_BODY_BYTES"},
    422: {"model": ErrorResponse, "description": "a field out of range or not valid for this model, or a response "
          "over GAN_MAX_IMAGES or GAN_MAX_OUTPUT_PIXELS; loc names the field"},
    429: {"model": ErrorResponse, "description": "over GAN_RATE_LIMIT; Retry-After says when to come back"},
    500: {"model": ErrorResponse, "description": "a bug: the request is logged with its request id"},
}
MODEL_ERRORS: dict[int | str, dict[str, Any]] = ERRORS | {
    404: {"model": ErrorResponse, "description": "unknown model (the message lists the available ones)"},
    503: {"model": ErrorResponse, "description": "the model failed to load, or is busy (queue full or queue "
          "timeout; Retry-After says when to retry)"},
}
PNG_RESPONSE: dict[int | str, dict[str, Any]] = MODEL_ERRORS | {
    200: {"content": {"image/png": {}, "application/json": {}, "application/x-npy": {}},
          "description": "a PNG (a grid when there are several images), JSON with base64 PNGs, or with format "
          "npy the uint8 pixels (N, H, W, C) as a NumPy .npy file (headers X-Shape, X-Seed)"},
}


async def get_service(request: Request) -> GanService:  # async: a sync dependency costs a thread hop
    return request.app.state.service


ServiceDep = Annotated[GanService, Depends(get_service)]
router = APIRouter(responses=ERRORS)


def encode(frames: Frames, fmt: str, model: str, scale: int, started: float) -> Response:
    """PNG, npy or JSON from frames; large ones are encoded on the torch thread (PNG encoding is CPU work)."""
    headers = {"X-Generation-Ms": f"{(time.perf_counter() - started) * 1000:.1f}"}
    if "seed" in frames.extra:
        headers["X-Seed"] = str(frames.extra["seed"])
    if fmt == "png":
        array = frames.images[0] if len(frames.images) == 1 else grid_array(frames.images, frames.columns)
        return Response(png_bytes(array, scale), media_type="image/png", headers=headers)
    if fmt == "npy":  # the pixels as they are: scale and columns are for PNGs
        headers["X-Shape"] = ",".join(map(str, frames.images.shape))
        return Response(npy_bytes(frames.images), media_type=NPY_TYPE, headers=headers)
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
CLIENT_GONE = 499  # nginx's "client closed request": logged and counted, never seen by the client


async def client_gone(request: Request) -> None:
    """Returns when the client has closed its connection (the body is already read by then)."""
    try:
        while (await request.receive())["type"] != "http.disconnect":
            pass
    except Exception:  # noqa: BLE001 - e.g. the body guard's 408 for a body a GET declared and never sent
        await asyncio.Event().wait()  # that is no disconnect: let the work finish


async def respond(request: Request, req: ImageRequest, work: Awaitable[Frames]) -> Response:
    """Awaits the service's frames, then encodes them: small outputs inline, larger ones on the torch thread, after
    the forward pass that made them (in another thread the next forward ran slower: a third thread beside
    the torch thread's OpenMP team, docs/benchmarks.md).
    A client that leaves first cancels the work: its request leaves the model's queue, nobody's work is done."""
    started = time.perf_counter()
    handler = asyncio.current_task()
    left = False

    async def watch() -> None:
        nonlocal left
        await client_gone(request)
        left = True
        handler.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        frames = await work
    except asyncio.CancelledError:
        if not left:
            raise  # cancelled by the server (shutdown), not by the client
        handler.uncancel()  # our own cancellation, handled here
        return Response(status_code=CLIENT_GONE)
    finally:
        watcher.cancel()
    request.scope.get("state", {}).get("access", {}).update(model=req.model, n=len(frames.images))
    if req.format == "npy" or frames.images.size * req.scale**2 <= INLINE_PIXELS:
        return encode(frames, req.format, req.model, req.scale, started)
    executor = request.app.state.service.executor
    return await asyncio.get_running_loop().run_in_executor(executor, encode, frames, req.format, req.model, req.scale,
                                                            started)


NPY_TYPE = "application/x-npy"


def npy_bytes(array: np.ndarray) -> bytes:
    """NumPy's .npy format: a short header with dtype and shape, then the bytes (``np.load`` reads it; no pickle)."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def b64png(image, scale: int) -> str:
    return base64.b64encode(png_bytes(image, scale)).decode()


@router.get("/healthz", tags=["health"])
async def healthz() -> Health:
    """Alive (the event loop answers); says nothing about the models: see /readyz."""
    return Health(status="ok")


@router.get("/readyz", tags=["health"], responses={503: {"model": Readiness, "description": "no model loaded"}})
async def readyz(service: ServiceDep) -> JSONResponse:
    """Ready when at least one model is loaded; lists the models that failed to load, and why."""
    ready = bool(service.models)
    body = Readiness(ready=ready, models=sorted(service.models), unavailable=service.unavailable,
                     device=str(service.device))
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/models", tags=["models"])
async def list_models(service: ServiceDep) -> list[ModelCard]:
    """Every loaded model's card: family, sizes, codes and measured quality."""
    return [m.public_card(m.name in service.encoders) for m in service.models.values()]


ModelPath = Annotated[str, Path(max_length=128, description="a model name from GET /models")]


@router.get("/models/{name}", tags=["models"], responses=MODEL_ERRORS)
async def get_model(name: ModelPath, service: ServiceDep) -> ModelCard:
    """One model's card."""
    return service.get(name).public_card(name in service.encoders)


def examples(*bodies: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {summary: {"summary": summary, "value": body} for summary, body in bodies}


GENERATE_EXAMPLES = examples(
    ("16 sevens from CGAN, as a PNG grid", {"model": "cgan-mnist", "label": 7, "n": 16, "seed": 42, "scale": 4}),
    ("InfoGAN with a category and codes, as JSON",
     {"model": "infogan-mnist", "n": 2, "category": 3, "codes": [0.5, -1], "format": "json", "return_latents": True}),
    ("one DCGAN digit", {"model": "dcgan-mnist", "seed": 1}),
)
ARITHMETIC_EXAMPLES = examples(
    ("A - B + C with 8 neighbours", {"model": "dcgan-mnist", "terms": [
        {"seeds": [1, 2, 3]}, {"seeds": [4, 5, 6], "weight": -1}, {"seeds": [7, 8, 9]}], "neighbors": 8}),
)
INTERPOLATE_EXAMPLES = examples(
    ("a CGAN walk between two seeds", {"model": "cgan-mnist", "start": {"seed": 1}, "end": {"seed": 2}, "steps": 10}),
)
SWEEP_EXAMPLES = examples(
    ("code 0 from -2 to 2", {"model": "infogan-mnist", "vary": 0, "seed": 3, "scale": 2}),
    ("every category for 4 seeds", {"model": "infogan-mnist", "vary": "category", "rows": 4}),
)


@router.post("/generate", tags=["generate"], responses=PNG_RESPONSE)
async def generate(req: Annotated[GenerateRequest, Body(openapi_examples=GENERATE_EXAMPLES)],
                   service: ServiceDep, request: Request) -> Response:
    """Images from seeds: image i of a request with seed s is the image of seed s + i."""
    return await respond(request, req, service.generate(req))


def query_request(params: dict[str, Any]) -> GenerateRequest:
    """A GenerateRequest from query parameters; its errors point at the query (the name at the path)."""
    try:
        return GenerateRequest.model_validate(params)
    except ValidationError as e:
        errors = []
        for err in e.errors(include_url=False, include_input=False):
            where = ("path", "name") if err["loc"][:1] == ("model",) else ("query", *err["loc"])
            errors.append({**err, "loc": where})
        raise RequestValidationError(errors) from None


IMMUTABLE = "public, max-age=31536000, immutable"
SAMPLE_RESPONSES: dict[int | str, dict[str, Any]] = PNG_RESPONSE | {
    304: {"description": "If-None-Match named this seeded image's ETag: not generated again"},
}


def etag_matches(request: Request, etag: str) -> bool:
    given = request.headers.get("if-none-match")
    if not given:
        return False
    tags = [t.strip().removeprefix("W/") for t in given.split(",")]
    return "*" in tags or etag in tags


@router.get("/models/{name}/sample.png", tags=["generate"], responses=SAMPLE_RESPONSES)
async def sample_png(
    name: ModelPath,
    service: ServiceDep,
    request: Request,
    seed: Annotated[int | None, Query(ge=0, le=MAX_SEED)] = None,
    n: Annotated[int, Query(ge=1, le=4096)] = 1,
    label: Annotated[str | None, Query(min_length=1, max_length=64, description="an index or a class name")] = None,
    category: Annotated[int | None, Query(ge=0, le=255)] = None,
    codes: Annotated[str | None, Query(max_length=512, description="comma-separated floats, e.g. 0.5,-1")] = None,
    columns: Annotated[int | None, Query(ge=1, le=64)] = None,
    scale: Annotated[int, Query(ge=1, le=16)] = 1,
) -> Response:
    """The same as POST /generate with format png, for links and <img> tags. With a seed the image is a pure
    function of the checkpoint and the parameters: it carries a strong ETag and may be cached for a year
    (If-None-Match gets a 304 without generating); without one, it is never cached."""
    code_values: list[Any] | None = None
    if codes is not None:
        code_values = [v.strip() for v in codes.split(",")]  # pydantic checks each: a number, finite, in range
    req = query_request({"model": name, "seed": seed, "n": n, "label": label, "category": category,
                         "codes": code_values, "columns": columns, "scale": scale})
    etag = None if seed is None else service.etag(req)
    if etag is not None and etag_matches(request, etag):
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": IMMUTABLE})
    response = await respond(request, req, service.generate(req))
    if etag is not None and response.status_code == 200:
        response.headers["ETag"], response.headers["Cache-Control"] = etag, IMMUTABLE
    else:
        response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/latent/arithmetic", tags=["latent"], responses=PNG_RESPONSE)
async def arithmetic(req: Annotated[ArithmeticRequest, Body(openapi_examples=ARITHMETIC_EXAMPLES)],
                     service: ServiceDep, request: Request) -> Response:
    """Sum over terms of weight x mean z of the term's seeds (or its z), plus noisy neighbours."""
    return await respond(request, req, service.arithmetic(req))


@router.post("/latent/interpolate", tags=["latent"], responses=PNG_RESPONSE)
async def interpolate(req: Annotated[InterpolateRequest, Body(openapi_examples=INTERPOLATE_EXAMPLES)],
                      service: ServiceDep, request: Request) -> Response:
    """Frames from the start latent to the end latent (slerp or lerp); conditional inputs blend too."""
    return await respond(request, req, service.interpolate(req))


@router.post("/infogan/sweep", tags=["infogan"], responses=PNG_RESPONSE)
async def sweep(req: Annotated[SweepRequest, Body(openapi_examples=SWEEP_EXAMPLES)],
                service: ServiceDep, request: Request) -> Response:
    """A grid: rows = categories and columns = values of one continuous code, or columns = categories."""
    return await respond(request, req, service.sweep(req))


DIGIT_PNG = (  # the first digit of the bundled test split (a 6), 28 x 28, as base64 PNG
    "iVBORw0KGgoAAAANSUhEUgAAABwAAAAcCAAAAABXZoBIAAABDklEQVR42mNgoAtgEo25+/8AK3bJpkff//78bIVNSjL0zd+/lyyxavO++Pfv"
    "x0werHJSX/7+vSuH3brod38/ZfFjlzP//vdvOA4/8Kz9+yGDBYdk29+/sbg8r/7hbzYTLsnsv/cw3QKzxZJh70cGBn1PdQaGpzuvvkNRw//hr"
    "z8Dw+Ivf//+/fv37yEbFJ2yvAwMDJZhLE1XGRicXKy3he5E0sn19e8rMd8/mxkZGBgYvL79+8yBbG7837/hDEvWMjMwMDAwbP77lxNZUv7C3/"
    "f20HANvP3vFhuKk9havv79vDfGlEGz7Nvfv9OZ0Xxl0/fy799fX3/+vZcrCJFjRJaWSxEP/LOZoe8mwyAFAFejZ8J5ub2cAAAAAElFTkSuQmCC"
)
ENCODE_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": EncodeRequest.model_json_schema(), "examples": examples(
        ("a held-out 6 from MNIST's test set, as a base64 PNG", {"model": "infogan-mnist", "image": DIGIT_PNG}))},
    "multipart/form-data": {"schema": {
        "type": "object", "required": ["model", "image"],
        "properties": {"model": {"type": "string", "minLength": 1, "maxLength": 128},
                       "image": {"type": "string", "format": "binary", "description": "the image file"}}}},
}}}
ENCODE_RESPONSES: dict[int | str, dict[str, Any]] = MODEL_ERRORS | {
    400: {"model": ErrorResponse, "description": "a multipart body that cannot be read (or more than one file)"},
    415: {"model": ErrorResponse, "description": "a body that is neither JSON nor multipart/form-data"},
}


def body_error(field: str, msg: str, kind: str = "value_error") -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", field), "msg": msg, "type": kind}])


async def encode_input(request: Request) -> tuple[str, bytes]:
    """``(model, image bytes)`` from a JSON body (base64) or a multipart upload."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=4)
        model, image = form.get("model"), form.get("image")
        if not isinstance(model, str) or not 1 <= len(model) <= 128:
            raise body_error("model", "model is required: a model name of 1 to 128 characters", "missing")
        if image is None or isinstance(image, str):
            raise body_error("image", "image is required: an image file (multipart field 'image')", "missing")
        return model, await image.read()
    if kind != "application/json":
        raise HTTPException(415, f"send the image as application/json or multipart/form-data, not {kind[:64]!r}")
    try:
        req = EncodeRequest.model_validate_json(await request.body())
    except ValidationError as e:
        errors = [{**err, "loc": ("body", *err["loc"])} for err in e.errors(include_url=False, include_input=False)]
        raise RequestValidationError(errors) from None
    text = req.image.split(",", 1)[1] if req.image.startswith("data:") else req.image  # a canvas's data: URL
    try:
        return req.model, base64.b64decode(text, validate=True)
    except ValueError:
        raise body_error("image", "image is not valid base64") from None


@router.post("/infogan/encode", tags=["infogan"], responses=ENCODE_RESPONSES, openapi_extra=ENCODE_BODY)
async def encode_image(request: Request, service: ServiceDep) -> Encoding:
    """InfoGAN reads a digit: Q's category (and the digit it stands for) and continuous codes for an image, sent
    as JSON with a base64 image or as a multipart upload. Any size and either polarity: the image is cropped,
    scaled and centred like MNIST's digits (the result comes back as `seen`)."""
    model, data = await encode_input(request)
    if not data:
        raise ApiError(422, "image is empty", "image")
    result = await service.encode_image(model, data)
    request.scope.get("state", {}).get("access", {}).update(model=model, n=1)
    return Encoding(model=model, category=result.category, probabilities=result.probabilities, digit=result.digit,
                    digit_probabilities=result.digit_probabilities, codes=result.codes, seen=b64png(result.seen, 1))


@router.get("/metrics", tags=["health"], response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    return Response(request.app.state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
