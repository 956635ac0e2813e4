"""Logging: every line carries the request id of the request it belongs to; text or one JSON object a line.

    setup_logging("info", "json")
    log.info("loaded %s", name)            # {"time": ..., "level": "INFO", "request_id": "-", "message": ...}
"""

from __future__ import annotations

import json
import logging
import time
from contextvars import ContextVar
from typing import Any

request_id: ContextVar[str] = ContextVar("request_id", default="-")
ACCESS_FIELDS = ("method", "route", "status", "duration_ms", "model", "n", "client")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        line |= {k: getattr(record, k) for k in ACCESS_FIELDS if hasattr(record, k)}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


class RepeatFilter(logging.Filter):
    """Lets one record of a kind through per ``every_s`` seconds and counts the rest: asyncio logs
    "socket.accept() out of system resource" thousands of times a second at the file-descriptor limit."""

    def __init__(self, every_s: float = 10.0) -> None:
        super().__init__()
        self.every_s, self.last, self.dropped = every_s, {}, 0

    def filter(self, record: logging.LogRecord) -> bool:
        key, now = (record.name, record.msg), time.monotonic()
        if now - self.last.get(key, -self.every_s) < self.every_s:
            self.dropped += 1
            return False
        self.last[key] = now
        if self.dropped:
            record.msg = f"{record.msg} ({self.dropped} similar lines dropped)"
            self.dropped = 0
        return True


def setup_logging(level: str, fmt: str) -> None:
    """Configures the root logger once (uvicorn's own loggers go through it)."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # uvicorn writes its own access line whenever its access logger has a handler, the root's included: the
    # middleware's line (route template, no query string, request id) is the one access log
    access = logging.getLogger("uvicorn.access")
    access.handlers[:], access.propagate = [], False
    logging.getLogger("asyncio").addFilter(RepeatFilter())
