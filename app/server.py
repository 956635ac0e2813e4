"""The HTTP server: uvicorn with deliberate limits, the way nginx sets them.

- ``GAN_HEADER_TIMEOUT_S`` (nginx's client_header_timeout): a connection must deliver a request's headers
  within this, or it gets a 408 and is closed (a client sending one byte every few seconds included).
- ``GAN_BODY_TIMEOUT_S`` (client_body_timeout): the body must follow within this (app.middleware.BodyGuardMiddleware).
- ``GAN_KEEP_ALIVE_S`` (keepalive_timeout): idle keep-alive connections close after this.
- ``GAN_MAX_CONNECTIONS`` (worker_connections), kept below the process's file-descriptor limit: past it the
  oldest connection that is idle or still sending its request is closed to make room (nginx reuses such
  connections the same way), so the server keeps accepting and answering when slow clients pile up;
  when every connection is busy with a request, the newcomer gets uvicorn's 503 (its concurrency limit).
- ``GAN_WORKERS`` (worker_processes): processes sharing the listening socket, each with its own models and
  micro-batcher; the event loop of one Python process is the limit on a CPU, so two workers on two cores
  serve about 1.5x the requests of one (docs/benchmarks.md). Metrics and rate limits are then per worker.
"""

from __future__ import annotations

import logging
import pickle
import resource
import time
from typing import Any

import uvicorn
from uvicorn.supervisors import multiprocess

from app.protocol import GuardedHttpToolsProtocol, check_internals

log = logging.getLogger("gan_studio")
FD_RESERVE = 64  # descriptors kept for everything but client sockets (checkpoints, logs, the listening socket)


def raise_fd_limit() -> int:
    """Raises the soft file-descriptor limit to the hard one (nginx's worker_rlimit_nofile); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


APP = "app.main:create_app"  # what each worker process builds (by name: workers import it afresh)


def uvicorn_config(host: str, port: int, settings: Any, app: str = APP) -> uvicorn.Config:
    check_internals()  # fails loudly, before serving, on a uvicorn whose internals the guard overrides have moved
    fd_limit = raise_fd_limit()
    max_connections = max(8, min(settings.max_connections, fd_limit - FD_RESERVE))
    if max_connections < settings.max_connections:
        log.warning("GAN_MAX_CONNECTIONS lowered to %d: the file-descriptor limit is %d", max_connections, fd_limit)
    config = uvicorn.Config(
        app, factory=True, host=host, port=port, loop="uvloop", http=GuardedHttpToolsProtocol,
        workers=settings.workers,
        limit_concurrency=max_connections + 1,  # reached only when every connection has a request in progress
        timeout_keep_alive=settings.keep_alive_s,
        backlog=2048,
        access_log=False,  # app.middleware.RequestContextMiddleware writes the access log, with request ids
        proxy_headers=bool(settings.forwarded_allow_ips),  # X-Forwarded-For believed from these proxies only
        forwarded_allow_ips=",".join(settings.forwarded_allow_ips) or "",
        timeout_worker_healthcheck=settings.worker_boot_timeout_s,  # a starting worker imports torch first
        log_config=None,  # app.logs configures logging
        server_header=False,
    )
    config.gan_header_timeout_s, config.gan_max_connections = settings.header_timeout_s, max_connections
    config.gan_max_header_bytes, config.gan_max_headers = settings.max_header_bytes, settings.max_headers
    return config


class WorkerDeaths(logging.Filter):
    """uvicorn's supervisor tells of a worker that died (and is replaced) at INFO: this is a WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Child process") and ("died" in message or "failed" in message):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args = f"worker {message[len('Child process '):]}; starting another", None
        return record.levelno >= logging.getLogger().getEffectiveLevel()  # the rest as GAN_LOG_LEVEL says


class Worker(multiprocess.Process):
    """uvicorn's worker process, with a health ping that ends as soon as the worker has died: uvicorn waits the whole
    boot timeout (60 s here) for a ping sent to a worker that died before it answered, its death unseen meanwhile.
    (Module level: spawned workers unpickle it by name.)"""

    def _healthcheck(self, timeout: float) -> bool | None:
        try:
            self.parent_conn.send(b"ping")
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.parent_conn.poll(min(0.5, max(0.0, deadline - time.monotonic()))):
                    return self.parent_conn.recv()
                if not self.process.is_alive():
                    return None
            return None
        except (OSError, EOFError, pickle.UnpicklingError):
            return None


class Supervisor(multiprocess.Multiprocess):
    """uvicorn's supervisor, making ``Worker`` processes (it makes them by its module's name ``Process``)."""

    def run(self) -> None:
        multiprocess.Process = Worker
        super().run()


def run(host: str, port: int, settings: Any, app: str = APP) -> None:
    """Serves until stopped: in this process, or in ``GAN_WORKERS`` processes sharing one socket. ``app`` names
    the app factory (the benchmark serves its own, with the HTTP floor's route added)."""
    config = uvicorn_config(host, port, settings, app)
    if config.workers > 1:
        from app.logs import setup_logging

        setup_logging(settings.log_level, settings.log_format)  # the master's own lines: workers dying, restarts
        uvicorn_log = logging.getLogger("uvicorn.error")
        uvicorn_log.setLevel(logging.INFO)  # its INFO records reach the filter, which keeps what the level allows
        uvicorn_log.addFilter(WorkerDeaths())
        Supervisor(config, sockets=[config.bind_socket()]).run()
    else:
        uvicorn.Server(config).run()
