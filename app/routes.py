"""HTTP routes, thin: each validates its input (pydantic), calls the service and hands the frames to
``respond`` (app/responses.py). No torch work happens here; the OpenAPI extras are in app/openapi.py."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from app.errors import ApiError
from app.openapi import (
    ARITHMETIC_EXAMPLES,
    ARITHMETIC_RESPONSES,
    DIGIT_PNG,  # noqa: F401 - the encode example, also used by tests
    ENCODE_BODY,
    ENCODE_RESPONSES,
    ERRORS,
    GENERATE_EXAMPLES,
    GENERATE_RESPONSES,
    INTERPOLATE_EXAMPLES,
    INTERPOLATE_RESPONSES,
    MODEL_ERRORS,
    ONNX_RESPONSES,
    SAMPLE_RESPONSES,
    SWEEP_EXAMPLES,
    SWEEP_RESPONSES,
)
from app.responses import CLIENT_GONE, b64png, guarded, respond
from app.schemas import (
    MAX_SEED,
    ArithmeticRequest,
    EncodeRequest,
    Encoding,
    GenerateRequest,
    Health,
    InterpolateRequest,
    ModelCard,
    Readiness,
    SweepRequest,
)
from app.service import GanService


async def get_service(request: Request) -> GanService:  # async: a sync dependency costs a thread hop
    return request.app.state.service


IMMUTABLE = "public, max-age=31536000, immutable"
ServiceDep = Annotated[GanService, Depends(get_service)]
router = APIRouter(responses=ERRORS)


@router.get("/healthz", tags=["health"], operation_id="healthz")
@router.head("/healthz", include_in_schema=False)
async def healthz() -> Health:
    """Alive (the event loop answers); says nothing about the models: see /readyz."""
    return Health(status="ok")


@router.get("/readyz", tags=["health"], operation_id="readyz", response_model=Readiness,
            responses={503: {"model": Readiness, "description": "no model loaded"}})
@router.head("/readyz", include_in_schema=False)
async def readyz(service: ServiceDep) -> JSONResponse:
    """Ready when at least one model is loaded; lists the models that failed to load, and why."""
    registry = service.registry
    ready = bool(registry.models)
    body = Readiness(ready=ready, models=sorted(registry.models), unavailable=registry.unavailable,
                     device=str(service.runner.device),
                     versions={name: m.version for name, m in sorted(registry.models.items())},
                     refused=registry.refused)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/models", tags=["models"], operation_id="list_models")
async def list_models(service: ServiceDep) -> list[ModelCard]:
    """Every loaded model's card: family, sizes, codes and measured quality."""
    return service.registry.cards()


ModelPath = Annotated[str, Path(max_length=128, description="a model name from GET /models")]


@router.get("/models/{name}", tags=["models"], operation_id="get_model", responses=MODEL_ERRORS)
async def get_model(name: ModelPath, service: ServiceDep) -> ModelCard:
    """One model's card."""
    return service.registry.card(name)


@router.post("/generate", tags=["generate"], operation_id="generate", responses=GENERATE_RESPONSES)
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


def etag_matches(request: Request, etag: str) -> bool:
    given = request.headers.get("if-none-match")
    if not given:
        return False
    tags = [t.strip().removeprefix("W/") for t in given.split(",")]
    return "*" in tags or etag in tags


@router.get("/models/{name}/sample.png", tags=["generate"], operation_id="sample_png", response_class=Response,
            responses=SAMPLE_RESPONSES)
@router.head("/models/{name}/sample.png", include_in_schema=False)
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


@router.get("/models/{name}/model.onnx", tags=["models"], operation_id="model_onnx", response_class=Response,
            responses=ONNX_RESPONSES)
async def model_onnx(name: ModelPath, service: ServiceDep, request: Request) -> Response:
    """The generator as an ONNX graph with its pixels made inside (uint8), to run with ONNX Runtime anywhere: the
    demo page draws with it in the browser. Exported once per loaded version; the ETag names that version and the
    exporter, so a client keeps the file and revalidates it (If-None-Match gets a 304)."""
    onnx = await service.onnx_file(name, lambda etag: etag_matches(request, etag))
    request.scope.get("state", {}).get("access", {}).update(model=name)
    headers = {"ETag": onnx.etag, "Cache-Control": "no-cache", "X-Model-Version": onnx.version}
    if onnx.data is None:
        return Response(status_code=304, headers=headers)
    headers["Content-Disposition"] = f'attachment; filename="{name}.onnx"'
    return Response(onnx.data, media_type="application/octet-stream", headers=headers)


@router.post("/latent/arithmetic", tags=["latent"], operation_id="arithmetic", responses=ARITHMETIC_RESPONSES)
async def arithmetic(req: Annotated[ArithmeticRequest, Body(openapi_examples=ARITHMETIC_EXAMPLES)],
                     service: ServiceDep, request: Request) -> Response:
    """Sum over terms of weight x mean z of the term's seeds (or its z), plus noisy neighbours."""
    return await respond(request, req, service.arithmetic(req))


@router.post("/latent/interpolate", tags=["latent"], operation_id="interpolate", responses=INTERPOLATE_RESPONSES)
async def interpolate(req: Annotated[InterpolateRequest, Body(openapi_examples=INTERPOLATE_EXAMPLES)],
                      service: ServiceDep, request: Request) -> Response:
    """Frames from the start latent to the end latent (slerp or lerp); conditional inputs blend too."""
    return await respond(request, req, service.interpolate(req))


@router.post("/infogan/sweep", tags=["infogan"], operation_id="sweep", responses=SWEEP_RESPONSES)
async def sweep(req: Annotated[SweepRequest, Body(openapi_examples=SWEEP_EXAMPLES)],
                service: ServiceDep, request: Request) -> Response:
    """A grid: rows = categories and columns = values of one continuous code, or columns = categories."""
    return await respond(request, req, service.sweep(req))


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
    text = req.image
    if text.startswith("data:"):  # a canvas's data: URL
        header, comma, text = text.partition(",")
        if not comma or not header.endswith(";base64"):
            raise body_error("image", "image is a data: URL without ';base64,' and the image after it")
    try:
        return req.model, base64.b64decode(text, validate=True)
    except ValueError:
        raise body_error("image", "image is not valid base64") from None


@router.post("/infogan/encode", tags=["infogan"], operation_id="encode", responses=ENCODE_RESPONSES,
             openapi_extra=ENCODE_BODY)
async def encode_image(request: Request, service: ServiceDep) -> Encoding:
    """InfoGAN reads a digit: Q's category (and the digit it stands for) and continuous codes for an image, sent
    as JSON with a base64 image or as a multipart upload. Any size and either polarity: the image is cropped,
    scaled and centred like MNIST's digits (the result comes back as `seen`)."""
    model, data = await encode_input(request)
    if not data:
        raise ApiError(422, "image is empty", "image")
    result = await guarded(request, service.encode_image(model, data))
    if result is None:
        return Response(status_code=CLIENT_GONE)
    request.scope.get("state", {}).get("access", {}).update(model=model, n=1)
    return Encoding(model=model, category=result.category, probabilities=result.probabilities, digit=result.digit,
                    digit_probabilities=result.digit_probabilities, codes=result.codes, seen=b64png(result.seen, 1),
                    model_version=result.version)


@router.get("/metrics", tags=["health"], operation_id="metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text format"}})
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    return Response(request.app.state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

