"""The server process layout: GAN_WORKERS processes share one port and answer like one process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.server import running_server, server_process

pytestmark = pytest.mark.integration


def worker_processes(pid: int) -> list[int]:
    """Child processes started by multiprocessing's spawn (not its resource tracker)."""
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return [k for k in kids if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()]


def test_two_workers_share_the_port_and_give_the_same_bytes():
    bodies = [{"model": "cgan-mnist", "label": i % 10, "seed": i, "n": 2} for i in range(40)]

    async def send_all(url: str) -> list[bytes]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as c:
            responses = await asyncio.gather(*(c.post("/generate", json=b) for b in bodies))
        assert all(r.status_code == 200 for r in responses)
        return [r.content for r in responses]

    with server_process({"GAN_WORKERS": "2"}) as (url, proc):
        assert len(worker_processes(proc.pid)) == 2  # uvicorn's supervisor and its two worker processes
        two = asyncio.run(send_all(url))
    with running_server() as url:
        one = asyncio.run(send_all(url))
    assert two == one


def test_uvicorn_serves_the_module_level_app():
    """The FastAPI convention: ``uvicorn app.main:app`` finds the app and loads the models in its lifespan."""
    argv = ["-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning"]
    with server_process(argv=argv) as (url, _):
        ready = httpx.get(url + "/readyz").json()
        assert ready["ready"] and "cgan-mnist" in ready["models"]
        assert httpx.post(url + "/generate", json={"model": "cgan-mnist", "label": 3, "seed": 1}).status_code == 200
