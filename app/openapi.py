"""What the OpenAPI document says beyond the schemas: each route's error answers, its examples, and the
hand-written request body of POST /infogan/encode (JSON or multipart)."""

from __future__ import annotations

from typing import Any

from app.schemas import EncodeRequest, ErrorResponse

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


SAMPLE_RESPONSES: dict[int | str, dict[str, Any]] = PNG_RESPONSE | {
    304: {"description": "If-None-Match named this seeded image's ETag: not generated again"},
}


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


