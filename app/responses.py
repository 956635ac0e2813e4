"""From the service's frames to the HTTP answer: PNG (a grid for several images), npy or JSON with base64 PNGs;
small answers encoded on the event loop (a small /generate answer's PNGs come made with its pixels, on the torch
thread in a batch: ``pngs_in_batch`` in app/service.py), larger ones on the torch thread; work cancelled when the
client leaves.

    return await respond(request, req, service.generate(req))
"""

from __future__ import annotations

import asyncio
import base64
import io
import time
from collections.abc import Awaitable
from typing import TypeVar

import numpy as np
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from app.errors import ApiError
from app.protocol import DISCONNECT
from app.schemas import ArithmeticRequest, GenerateRequest, InterpolateRequest, SweepRequest
from app.service import SMALL_PIXELS, Frames
from models.images import grid_array, png_bytes


def encode(frames: Frames, fmt: str, model: str, scale: int, started: float) -> Response:
    """PNG, npy or JSON from frames; large ones are encoded on the torch thread (PNG encoding is CPU work)."""
    headers = {"X-Generation-Ms": f"{(time.perf_counter() - started) * 1000:.1f}", "X-Model-Version": frames.version}
    if "seed" in frames.extra:
        headers["X-Seed"] = str(frames.extra["seed"])
    if fmt == "png":
        if len(frames.images) == 1:
            png = frames.pngs[0] if frames.pngs else png_bytes(frames.images[0], scale)
        else:
            png = png_bytes(grid_array(frames.images, frames.columns), scale)
        return Response(png, media_type="image/png", headers=headers)
    if fmt == "npy":  # the pixels as they are: scale and columns are for PNGs
        headers["X-Shape"] = ",".join(map(str, frames.images.shape))
        return Response(npy_bytes(frames.images), media_type=NPY_TYPE, headers=headers)
    extra = dict(frames.extra)
    if "term_images" in extra:
        extra["terms"] = [t | {"png": b64png(img, scale)} for t, img in zip(extra["terms"], extra.pop("term_images"),
                                                                          strict=True)]
    pngs = frames.pngs or [png_bytes(img, scale) for img in frames.images]
    images = [info | {"png": base64.b64encode(png).decode()} for info, png in zip(frames.info, pngs, strict=True)]
    body = {"model": model, "model_version": frames.version, **extra, "images": images,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 1)}
    return JSONResponse(body, headers=headers)


ImageRequest = GenerateRequest | ArithmeticRequest | InterpolateRequest | SweepRequest


T = TypeVar("T")
CLIENT_GONE = 499  # nginx's "client closed request": logged and counted, never seen by the client


async def client_gone(request: Request) -> None:
    """Returns when the client has closed its connection (the body is already read by then)."""
    try:
        while (await request.receive())["type"] != "http.disconnect":
            pass
    except Exception:  # noqa: BLE001 - e.g. the body guard's 408 for a body a GET declared and never sent
        await asyncio.Event().wait()  # that is no disconnect: let the work finish


async def guarded(request: Request, work: Awaitable[T]) -> T | None:
    """``work`` under the request's one deadline (``GAN_REQUEST_TIMEOUT_S``, from here to the answer: queue, batch,
    encoding; past it a 503 with Retry-After and the work dropped), cancelled when the client leaves (None then:
    its request leaves the model's queue, nobody's work is done). The server's protocol says when the client's
    connection closes (its ``DISCONNECT`` extension, app/protocol.py); under another server (Ray's, a test client)
    a task of the request's own waits for the ASGI ``http.disconnect``."""
    settings = request.app.state.settings
    handler = asyncio.current_task()
    left = False

    def leave() -> None:
        nonlocal left
        left = True
        handler.cancel()

    async def watch() -> None:
        await client_gone(request)
        leave()

    disconnects = request.scope.get("extensions", {}).get(DISCONNECT)
    watcher = None
    if disconnects is not None:
        disconnects.add(leave)
    else:
        watcher = asyncio.ensure_future(watch())
    try:
        async with asyncio.timeout(settings.request_timeout_s) as deadline:
            return await work
    except TimeoutError:
        if not deadline.expired():
            raise
        raise ApiError(503, f"the request took longer than {settings.request_timeout_s:g} s (GAN_REQUEST_TIMEOUT_S); "
                       "retry shortly", headers={"Retry-After": str(settings.retry_after_s)}) from None
    except asyncio.CancelledError:
        if not left:
            raise  # cancelled by the server (shutdown), not by the client
        handler.uncancel()  # our own cancellation, handled here
        return None
    finally:
        if watcher is None:
            disconnects.discard(leave)
        else:
            watcher.cancel()


async def respond(request: Request, req: ImageRequest, work: Awaitable[Frames]) -> Response:
    """Awaits the service's frames, then encodes them: small outputs inline, larger ones on the torch thread, after
    the forward pass that made them (in another thread the next forward ran slower: a third thread beside
    the torch thread's OpenMP team, docs/benchmarks.md); all of it ``guarded``."""
    started = time.perf_counter()

    async def produce() -> Response:
        frames = await work
        request.scope.get("state", {}).get("access", {}).update(model=req.model, n=len(frames.images))
        if req.format == "npy" or frames.images.size * req.scale**2 <= SMALL_PIXELS:
            return encode(frames, req.format, req.model, req.scale, started)
        runner = request.app.state.service.runner
        return await runner.in_torch_thread(lambda: encode(frames, req.format, req.model, req.scale, started))

    response = await guarded(request, produce())
    return Response(status_code=CLIENT_GONE) if response is None else response


NPY_TYPE = "application/x-npy"


def npy_bytes(array: np.ndarray) -> bytes:
    """NumPy's .npy format: a short header with dtype and shape, then the bytes (``np.load`` reads it; no pickle)."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def b64png(image, scale: int) -> str:
    return base64.b64encode(png_bytes(image, scale)).decode()


