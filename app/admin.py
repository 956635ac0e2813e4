"""Admin routes, for what a watcher cannot see (a file system without events, a folder changed by hand): reread
the configured folders, all of them or one model's files. They exist only when ``GAN_ADMIN_KEYS`` is set (404
otherwise) and take a Bearer key from that set alone (an API key is not an admin key). They take no path or URL:
a model name only picks which of the files already in the folders to reread.

    curl -X POST localhost:8000/admin/reload -H 'Authorization: Bearer ADMIN_KEY'
    curl -X POST localhost:8000/admin/reload/cgan-mnist -H 'Authorization: Bearer ADMIN_KEY'
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from app.errors import ApiError
from app.openapi import ERRORS
from app.schemas import ReloadReport
from app.service import GanService

NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"  # a checkpoint's name, never a path


async def admin_key(request: Request) -> None:
    keys = request.app.state.settings.admin_keys
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    digest = hashlib.sha256(token.strip().encode("utf-8", "replace")).digest()
    found = False
    for key in keys:  # every key compared, in constant time
        found |= hmac.compare_digest(digest, hashlib.sha256(key.encode()).digest())
    if scheme.lower() != "bearer" or not token or not found:
        raise ApiError(401, "an admin key is required: Authorization: Bearer <key> (GAN_ADMIN_KEYS)",
                       headers={"WWW-Authenticate": "Bearer"})


router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(admin_key)], responses=ERRORS)


async def service_of(request: Request) -> GanService:
    return request.app.state.service


@router.post("/reload", operation_id="reload_models")
async def reload_all(service: Annotated[GanService, Depends(service_of)]) -> ReloadReport:
    """Rereads every configured checkpoint folder: new and changed checkpoints are loaded (or refused, the old
    version serving on), removed ones stop being served."""
    return await service.registry.reload()


@router.post("/reload/{name}", operation_id="reload_model")
async def reload_one(name: Annotated[str, Path(pattern=NAME, description="a checkpoint's name")],
                     service: Annotated[GanService, Depends(service_of)]) -> ReloadReport:
    """Rereads one checkpoint's files in the configured folders."""
    registry = service.registry
    if name not in registry.scan() and name not in registry.models and name not in registry.unavailable:
        raise ApiError(404, f"no checkpoint named {name!r} in the configured folders", "name")
    return await registry.reload(only=name)
