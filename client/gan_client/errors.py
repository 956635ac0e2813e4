"""What can go wrong talking to the GAN Studio service, as exceptions: ``GanClientError`` and one subclass per
answer the client tells apart (no answer, 401, 404, 422, 429, 503), each with ``status``, ``detail`` (the server's
error items), ``field`` (``n``, ``terms.0.seeds``) and ``retry_after``; ``error_for`` turns an error answer into one.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

LOCATIONS = frozenset({"body", "query", "path", "header"})


def field_of(loc: Sequence[str | int]) -> str | None:
    """The request field an error item points at, dotted: ``["body", "terms", 0, "seeds"]`` -> ``terms.0.seeds``;
    None for the request as a whole (``["body"]`` or ``[]``)."""
    parts = list(loc)[1:] if loc and loc[0] in LOCATIONS else list(loc)
    return ".".join(str(p) for p in parts) or None


class GanClientError(RuntimeError):
    """The server could not be reached, or answered with an error. ``status`` is the HTTP status (None when there
    was no answer), ``detail`` the server's error items (``[{"loc", "msg", "type"}]``), ``field`` the first item's
    field (``n``, ``terms.0.seeds``; None for the request as a whole), ``retry_after`` the seconds the server asked
    to wait (429, 503)."""

    def __init__(self, message: str, status: int | None = None, detail: list[dict[str, Any]] | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.detail, self.retry_after = status, detail or [], retry_after

    @property
    def fields(self) -> list[str]:
        return [f for f in (field_of(item.get("loc") or []) for item in self.detail) if f]

    @property
    def field(self) -> str | None:
        return next(iter(self.fields), None)


class ServiceUnreachable(GanClientError):
    """No answer: the server is down, the URL is wrong, or the connection broke or timed out."""


class Unauthorized(GanClientError):
    """401: the server wants an API key (``api_key=`` or GAN_API_KEY) and got none, or a wrong one."""


class NotFound(GanClientError):
    """404: an unknown model (``field`` is ``model``, or ``name`` for a path)."""


class InvalidRequest(GanClientError):
    """422: a value out of bounds or not fitting the model; ``field`` names it."""


class RateLimited(GanClientError):
    """429: over the server's rate limit, still after the retries (or for a request that is not retried)."""


class ServiceUnavailable(GanClientError):
    """503: the model failed to load, or the server is busy (queue full, queue timeout)."""


ERRORS = {401: Unauthorized, 404: NotFound, 422: InvalidRequest, 429: RateLimited, 503: ServiceUnavailable}


def retry_after(response: httpx.Response) -> float | None:
    """The Retry-After header in seconds (a number or an HTTP date), None when absent or unreadable."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def error_for(response: httpx.Response, path: str) -> GanClientError:
    """The error answer as an exception whose message names each field: ``422 from /generate: n: ...``."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, str):  # not this API's shape (a proxy's error, say), but readable
        detail = [{"loc": [], "msg": detail}]
    if not isinstance(detail, list):
        text = response.text.strip()[:200] or response.reason_phrase
        detail, message = [], text
    else:
        detail = [d if isinstance(d, dict) else {"msg": str(d)} for d in detail]
        message = "; ".join(f"{field_of(d.get('loc') or []) or 'request'}: {d.get('msg')}" for d in detail)
    kind = ERRORS.get(response.status_code, GanClientError)
    return kind(f"{response.status_code} from {path}: {message}", response.status_code, detail,
                retry_after(response))

