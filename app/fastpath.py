"""POST /generate without FastAPI's routing layers, its hottest request (docs/benchmarks.md, issue 12).

FastAPI's own layers (exception middleware, router, dependency solving, body handling) were most of the event
loop's work per request for the cheaper generators: without them a single-image request takes 0.64 ms in-process
instead of 0.86 (``python -m bench.asgi_profile --n 1 --requests 4000``, the MLP GAN). ``GenerateFastPath``
is a pure ASGI middleware just inside the hardening ones (request ids, access log, metrics, access control, CORS and
the body guard all still apply): for a POST to /generate with a JSON body it reads the body, validates it with the
route's own model (``GenerateRequest``) and answers through the route's own code (``routes.respond``); a
an ``ApiError`` goes to the app's own handler. Anything else (another route, another content type, a body that
does not validate) goes on to FastAPI, the body replayed, so every answer and error keeps its one shape.
``GAN_FAST_PATH=false`` leaves every request to FastAPI.

It pays (``python -m bench.fast_path``, docs/benchmarks.md), but it reproduces the route by hand, so what it
reproduces is written down: ``SHAPE`` is the route's signature (its body model, parameters, dependencies, response
class) as the fast path knows it. ``create_app`` installs the fast path only while the route still has that shape;
a parameter or dependency added to the route turns the fast path off (with a warning), never skipped silently, and
tests/app/test_fastpath.py fails until both are brought together again.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import ApiError, api_error
from app.middleware import header
from app.routes import respond, router
from app.schemas import GenerateRequest

PATH = "/generate"
GENERATE_ROUTE = next(r for r in router.routes if isinstance(r, APIRoute) and r.path == PATH and "POST" in r.methods)
SHAPE = {"endpoint": "generate", "methods": ["POST"], "body": [("req", "GenerateRequest")], "params": [],
         "dependencies": ["get_service"], "route_dependencies": 0, "request_param": "request",
         "response_class": "DefaultPlaceholder", "status_code": None}


def route_shape(route: APIRoute) -> dict[str, Any]:
    """What the fast path reproduces of ``route``: everything that decides how FastAPI would handle a request."""
    d = route.dependant
    return {"endpoint": route.endpoint.__name__, "methods": sorted(route.methods),
            "body": [(f.name, getattr(f.field_info.annotation, "__name__", str(f.field_info.annotation)))
                     for f in d.body_params],
            "params": [p.name for p in d.query_params + d.path_params + d.header_params + d.cookie_params],
            "dependencies": [getattr(dep.call, "__name__", str(dep.call)) for dep in d.dependencies],
            "route_dependencies": len(route.dependencies), "request_param": d.request_param_name,
            "response_class": type(route.response_class).__name__, "status_code": route.status_code}


def reproduces_route() -> bool:
    """Whether POST /generate still has the shape the fast path reproduces."""
    return route_shape(GENERATE_ROUTE) == SHAPE


def replayed(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` with the messages already read handed out once more, then the client's next ones."""
    pending = list(messages)

    async def again() -> Message:
        return pending.pop(0) if pending else await receive()

    return again


class GenerateFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST"
                or header(scope, b"content-type") != b"application/json"):
            await self.app(scope, receive, send)
            return
        messages, more = [], True
        while more:
            message = await receive()  # the body guard's: its size limit and deadline hold here too
            messages.append(message)
            if message["type"] != "http.request":  # the client left mid-body: FastAPI answers it as ever
                await self.app(scope, replayed(messages, receive), send)
                return
            more = message.get("more_body", False)
        body = b"".join(m.get("body", b"") for m in messages)
        try:
            req = GenerateRequest.model_validate_json(body)
        except ValidationError:  # FastAPI's 422, in the API's error shape
            await self.app(scope, replayed([{"type": "http.request", "body": body, "more_body": False}], receive),
                           send)
            return
        app = scope["app"]
        scope["route"] = GENERATE_ROUTE  # as the router would set it: the access log and metrics label by it
        request = Request(scope, receive)
        try:
            response = await respond(request, req, app.state.service.generate(req))
        except ApiError as e:
            response = await api_error(request, e)
        await response(scope, receive, send)
