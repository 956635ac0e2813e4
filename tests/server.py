"""Runs the real server (``gan-serve``) in a subprocess on a free localhost port (for tests, and the benchmark).

    with running_server({"GAN_MAX_WAIT_MS": "5"}) as url:
        httpx.post(url + "/generate", json={"model": "cgan-mnist", "label": 7})
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from models.files import REPO_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVE = ["-m", "app", "--host", "127.0.0.1", "--port", "{port}"]
FLOOR = ["-m", "bench.floor", "--host", "127.0.0.1", "--port", "{port}"]  # with the benchmark's floor route


@contextmanager
def running_server(env: dict[str, Any] | None = None, timeout: float = 60.0, nofile: int | None = None,
                   log_path: Path | None = None, argv: list[str] = SERVE) -> Iterator[str]:
    """Yields the base URL of a freshly started server; stops it afterwards. Its log goes to ``log_path``
    (a temporary file by default: a pipe nobody reads would stall the server); ``nofile`` sets its
    file-descriptor limit (soft and hard)."""
    with server_process(env, timeout, nofile, log_path, argv) as (url, _):
        yield url


@contextmanager
def server_process(env: dict[str, Any] | None = None, timeout: float = 60.0, nofile: int | None = None,
                   log_path: Path | None = None, argv: list[str] = SERVE,
                   stop_timeout: float = 10.0, cwd: Path = REPO_ROOT) -> Iterator[tuple[str, subprocess.Popen]]:
    """``running_server``, yielding the process too (to watch its memory); ``argv`` (after the Python
    executable, ``{port}`` filled in) runs another server, such as the benchmark's baseline or Ray Serve.
    It is stopped with SIGTERM, then SIGKILL after ``stop_timeout`` seconds; ``cwd`` is where it runs (another
    checkout of the project, for a before/after benchmark)."""
    port = free_port()
    limit = None if nofile is None else lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    with tempfile.TemporaryDirectory() as tmp:
        log_file = Path(log_path or Path(tmp) / "server.log")
        with open(log_file, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, *(a.replace("{port}", str(port)) for a in argv)],
                cwd=cwd, stdout=out,
                env=os.environ | {"GAN_LOG_LEVEL": "warning"} | {k: str(v) for k, v in (env or {}).items()},
                stderr=subprocess.STDOUT, preexec_fn=limit,
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        try:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited early:\n{log_file.read_text(errors='replace')}")
                try:  # any answer: uvicorn listens only once the app's start-up (model loading) is done
                    httpx.get(url + "/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not start in time")
                time.sleep(0.2)
            yield url, proc
        finally:
            proc.terminate()
            try:
                proc.wait(stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for_replicas(url: str, count: int, timeout: float, exclude: set[str] = frozenset()) -> set[str]:
    """Sends requests until ``count`` replicas (not in ``exclude``) have answered; returns all ids seen."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout

    def ask(_: int) -> httpx.Response | None:
        try:
            return client.get("/readyz")
        except httpx.HTTPError:  # a replica still starting (or a busy machine) may not answer in time: ask again
            return None

    with httpx.Client(base_url=url, timeout=10) as client, ThreadPoolExecutor(4) as pool:
        while time.monotonic() < deadline:
            answers = [r for r in pool.map(ask, range(8)) if r is not None]
            seen |= {r.headers.get("x-replica") for r in answers if r.status_code == 200} - {None}
            if len(seen - exclude) >= count:
                return seen
            time.sleep(0.5)
    raise AssertionError(f"only replicas {seen} answered within {timeout} s")
