"""What the OpenAPI document says beyond the routes' signatures: each route's answers (an image route's PNG, JSON or
npy, and the errors), its examples, the hand-written request body of POST /infogan/encode (JSON or multipart), and
what only the settings know (``finish``: the bearer schemes and the routes that need a key, the image cap). The
document is the contract for generated clients too (tests/app/test_generated_client.py builds one and calls every
route with it):

    install_openapi(app, settings)   # in create_app: app.openapi() is FastAPI's document, finished
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.config import Settings
from app.middleware import OPEN_PATHS, OPEN_PREFIXES, OWN_KEYS
from app.responses import NPY_TYPE
from app.schemas import (
    ArithmeticResponse,
    EncodeRequest,
    EncodeUpload,
    ErrorResponse,
    GenerateResponse,
    InterpolateResponse,
    SweepResponse,
)

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
BINARY = {"type": "string", "format": "binary"}


def image_answers(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """An image route's answers: by the body's format a PNG (the default), JSON (``model``) or npy; or an error."""
    return MODEL_ERRORS | {200: {
        "model": model, "content": {"image/png": {"schema": BINARY}, NPY_TYPE: {"schema": BINARY}},
        "description": "by the body's format: png, a PNG (a grid when there are several images); json, the images "
        "as base64 PNGs with what made each one; npy, the uint8 pixels (N, H, W, C) as a NumPy .npy file (header "
        "X-Shape). X-Seed names the first seed, X-Model-Version the version that made them."}}


GENERATE_RESPONSES = image_answers(GenerateResponse)
ARITHMETIC_RESPONSES = image_answers(ArithmeticResponse)
INTERPOLATE_RESPONSES = image_answers(InterpolateResponse)
SWEEP_RESPONSES = image_answers(SweepResponse)



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


SAMPLE_RESPONSES: dict[int | str, dict[str, Any]] = MODEL_ERRORS | {
    200: {"content": {"image/png": {"schema": BINARY}}, "description": "a PNG (a grid when there are several "
          "images); seeded, with a strong ETag and cached for a year"},
    304: {"description": "If-None-Match named this seeded image's ETag: not generated again"},
}
ONNX_RESPONSES: dict[int | str, dict[str, Any]] = MODEL_ERRORS | {
    200: {"content": {"application/octet-stream": {"schema": BINARY}}, "description": "the generator as an ONNX "
          "graph (opset 18, dynamic batch): inputs z float32 (n, z_dim); a CGAN's labels and blend_labels int64 (n,) "
          "and blend float32 (n,); an InfoGAN's categories and blend_categories int64 (n,), codes float32 (n, "
          "num_continuous) and blend; output images uint8 (n, H, W, C), the server's pixels within one grey level. "
          "The card's facts are in its metadata. A strong ETag names the checkpoint and the exporter; revalidate "
          "with If-None-Match (Cache-Control: no-cache)"},
    304: {"description": "If-None-Match named this version's ETag: not sent again"},
}


DIGIT_PNG = (  # the first digit of the bundled test split (a 6), 28 x 28, as base64 PNG
    "iVBORw0KGgoAAAANSUhEUgAAABwAAAAcCAAAAABXZoBIAAABDklEQVR42mNgoAtgEo25+/8AK3bJpkff//78bIVNSjL0zd+/lyyxavO++Pfv"
    "x0werHJSX/7+vSuH3brod38/ZfFjlzP//vdvOA4/8Kz9+yGDBYdk29+/sbg8r/7hbzYTLsnsv/cw3QKzxZJh70cGBn1PdQaGpzuvvkNRw//hr"
    "z8Dw+Ivf//+/fv37yEbFJ2yvAwMDJZhLE1XGRicXKy3he5E0sn19e8rMd8/mxkZGBgYvL79+8yBbG7837/hDEvWMjMwMDAwbP77lxNZUv7C3/"
    "f20HANvP3vFhuKk9havv79vDfGlEGz7Nvfv9OZ0Xxl0/fy799fX3/+vZcrCJFjRJaWSxEP/LOZoe8mwyAFAFejZ8J5ub2cAAAAAElFTkSuQmCC"
)
# Not "required", though a request without a body gets a 415: openapi-python-client 0.29 writes a module that does
# not import (Unset is not imported) for a required body with two content types.
ENCODE_BODY = {"requestBody": {"required": False, "description": "the image, as JSON (base64) or as a multipart "
                               "upload; a request without either gets a 415", "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/EncodeRequest"}, "examples": examples(
        ("a held-out 6 from MNIST's test set, as a base64 PNG", {"model": "infogan-mnist", "image": DIGIT_PNG}))},
    "multipart/form-data": {"schema": {"$ref": "#/components/schemas/EncodeUpload"}},
}}}
ENCODE_RESPONSES: dict[int | str, dict[str, Any]] = MODEL_ERRORS | {
    400: {"model": ErrorResponse, "description": "a multipart body that cannot be read (or more than one file)"},
    415: {"model": ErrorResponse, "description": "a body that is neither JSON nor multipart/form-data"},
}


def bearer(description: str) -> dict[str, Any]:
    return {"type": "http", "scheme": "bearer", "description": description}


def finish(schema: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """FastAPI's document, completed with what the settings decide: a bearer scheme for each kind of key that is
    set, and on each operation the key it needs (none for the paths app/middleware.py leaves open) and a 401 only
    where one can come; the largest n the image cap (GAN_MAX_IMAGES) allows; the schemas only hand-written bodies
    name. In place; returns ``schema``."""
    components = schema.setdefault("components", {})
    _, defs = models_json_schema([(m, "validation") for m in (EncodeRequest, EncodeUpload)],
                                 ref_template="#/components/schemas/{model}")
    components.setdefault("schemas", {}).update(defs["$defs"])
    schemes = {}
    if settings.api_keys:
        schemes["apiKey"] = bearer("an API key (GAN_API_KEYS): every route but health and the docs needs one")
    if settings.admin_keys:
        schemes["adminKey"] = bearer("an admin key (GAN_ADMIN_KEYS), for /admin alone")
    if schemes:
        components["securitySchemes"] = schemes
    for path, operations in schema["paths"].items():
        if path.startswith(OWN_KEYS):
            scheme = "adminKey"
        elif path in OPEN_PATHS or path.startswith(OPEN_PREFIXES) or not settings.api_keys:
            scheme = None
        else:
            scheme = "apiKey"
        for operation in operations.values():
            if scheme is None:
                operation["responses"].pop("401", None)
            else:
                operation["security"] = [{scheme: []}]
            content = operation["responses"].get("200", {}).get("content", {})
            if "image/png" in content:  # the default answer first, as the docs pages show it
                operation["responses"]["200"]["content"] = {"image/png": content.pop("image/png"), **content}
    for parameter in schema["paths"]["/models/{name}/sample.png"]["get"]["parameters"]:
        if parameter["name"] == "n":
            parameter["schema"]["maximum"] = settings.max_images
            parameter["description"] = f"number of images, at most {settings.max_images} (GAN_MAX_IMAGES)"
    generate = components["schemas"]["GenerateRequest"]["properties"]
    generate["n"]["maximum"] = settings.max_images
    for form in generate["seeds"]["anyOf"]:
        if form.get("type") == "array":
            form["maxItems"] = settings.max_images
    return schema


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """``app.openapi()`` (and /openapi.json): FastAPI's document, ``finish``ed once."""
    made = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = finish(made(), settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
