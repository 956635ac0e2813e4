"""The API's one error shape, ``{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}``, made here alone.

Every layer answers errors through this module: the routes and the service raise ``ApiError`` (or let FastAPI
raise its own), the middleware sends ``send_error``, the server's protocol writes ``raw_error`` straight to the
socket, and ``install_handlers`` turns every exception that reaches FastAPI into the same shape.

    raise ApiError(422, "n must be at most 256, got 300", "n")   # -> 422 {"detail": [{"loc": ["body", "n"], ...}]}
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.types import Send

log = logging.getLogger("gan_studio")
ECHO_LIMIT = 64  # characters of client input quoted back in an error

# The error kinds (``type``) of the statuses the API's own layers answer; validation errors keep pydantic's.
KINDS = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 408: "timeout",
         413: "too_large", 415: "unsupported_media_type", 422: "value_error", 429: "rate_limited",
         500: "internal_error", 503: "unavailable"}


class ApiError(Exception):
    """An error the client caused (or a model that is down). ``field`` names the request field, dotted for a
    nested one (``labels.2``, ``start.z``); where it sits (body, query or path) is the handler's to say."""

    def __init__(self, status: int, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.headers = status, message, field, headers


def clip(text: str, limit: int = ECHO_LIMIT) -> str:
    """Client input quoted in an error, cut to ``limit`` characters (a name can be 200 KB long)."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def error_body(status: int, msg: str, loc: Iterable[str | int] = (), kind: str | None = None) -> bytes:
    return json.dumps({"detail": [{"loc": list(loc), "msg": msg, "type": kind or KINDS.get(status, "error")}]}
                      ).encode()


def error_response(status: int, msg: str, loc: Iterable[str | int] = (), kind: str | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    return Response(error_body(status, msg, loc, kind), status_code=status, headers=headers,
                    media_type="application/json")


async def send_error(send: Send, status: int, msg: str, loc: Iterable[str | int] = (), kind: str | None = None,
                     headers: dict[str, str] | None = None) -> None:
    """The error as raw ASGI messages, for middleware that answers before (or instead of) the app."""
    body = error_body(status, msg, loc, kind)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def raw_error(status: int, reason: str, msg: str, kind: str | None = None) -> bytes:
    """The error as a whole HTTP/1.1 response that closes the connection (no request reached the app)."""
    body = error_body(status, msg, ["header"], kind)
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\nconnection: close\r\n"
            f"content-length: {len(body)}\r\n\r\n").encode() + body


def api_error_loc(method: str, field: str | None) -> list[str | int]:
    """Where an ``ApiError``'s field sits: GET /models/{name}/sample.png has the name in the path and the rest in
    the query; every other route takes a body."""
    if field is None:
        return []
    if method == "GET":
        return ["path", "name"] if field == "model" else ["query", field]
    return ["body", *(int(part) if part.isdecimal() else part for part in field.split("."))]


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def validation_body(errors: Iterable[dict[str, Any]]) -> bytes:
    """pydantic's errors in the one shape, minus the echoed input (which can be a large or binary body)."""
    detail = [{k: clip(v, 256) if k == "msg" else v for k, v in e.items() if k in ("loc", "msg", "type", "ctx")}
              for e in errors]
    return json.dumps({"detail": jsonable(detail)}, ensure_ascii=False, allow_nan=False, indent=None,
                      separators=(",", ":")).encode()


async def api_error(request: Request, exc: ApiError) -> Response:
    return error_response(exc.status, exc.message, api_error_loc(request.method, exc.field), None, exc.headers)


async def validation_error(request: Request, exc: RequestValidationError) -> Response:
    return Response(validation_body(exc.errors()), status_code=422, media_type="application/json")


async def http_error(request: Request, exc: HTTPException) -> Response:
    loc = ["body"] if exc.status_code in (400, 408, 413) else []
    return error_response(exc.status_code, str(exc.detail), loc, None, exc.headers)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error")
    return error_response(500, "internal error; the server log has it under this request's X-Request-ID")


def install_handlers(app: FastAPI) -> None:
    """Every exception that reaches FastAPI answers in the one shape."""
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, server_error)
