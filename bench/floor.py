"""The project's app with the benchmark's HTTP floor: ``POST /bench/constant.png`` parses the same request body as
``POST /generate`` and answers a fixed PNG, with no generation. The benchmark serves this app (never the service
itself: the route is not in the installed package).

    python -m bench.floor --port 8000          # the same server as gan-serve, with the floor's route
"""

from __future__ import annotations

import argparse

import numpy as np
from fastapi import APIRouter, FastAPI
from fastapi.responses import Response

from app.config import Settings
from app.main import create_app as create_service_app
from app.schemas import GenerateRequest
from models.images import grid_array, png_bytes

CONSTANT_PNG = png_bytes(grid_array(np.zeros((1, 28, 28, 1), np.uint8)))
router = APIRouter()


@router.post("/bench/constant.png", include_in_schema=False)
async def constant_png(req: GenerateRequest) -> Response:
    """The HTTP floor: the same request parsing, a fixed PNG, no generation."""
    return Response(CONSTANT_PNG, media_type="image/png")


def create_app(settings: Settings | None = None) -> FastAPI:
    app = create_service_app(settings)
    app.include_router(router)
    return app


def main(argv: list[str] | None = None) -> None:
    from app.server import run

    parser = argparse.ArgumentParser(description="gan-serve with the benchmark's floor route")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    run(args.host, args.port, Settings(), app="bench.floor:create_app")


if __name__ == "__main__":
    main()
