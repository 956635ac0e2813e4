"""Load generators: wrk (Debian's ``wrk``, a C load generator far cheaper than the servers) with a Lua script that
gives each request its own seed, or, without wrk, a bare asyncio HTTP/1.1 client.

    load("http://127.0.0.1:8000", "/generate", {"model": "dcgan-mnist", "n": 1}, concurrency=64, seconds=4)
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from urllib.parse import urlsplit

import numpy as np

WRK_SCRIPT = """
local prefix = os.getenv("BENCH_BODY")
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, prefix .. ',"seed":' .. counter .. "}")
end
"""


# --- load generators --------------------------------------------------------------------------------------
def wrk_load(url: str, path: str, body: dict, concurrency: int, seconds: float) -> dict[str, float]:
    prefix = json.dumps(body)[:-1]  # the Lua script appends ,"seed":N}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        out = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--latency", "-s", script.name,
                              url + path], capture_output=True, text=True, env=os.environ | {"BENCH_BODY": prefix},
                             timeout=seconds + 60, check=True).stdout
    finally:
        os.unlink(script.name)
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"{path} at c={concurrency}: errors\n{out}")

    def ms(label: str) -> float:
        value = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        number, unit = float(value.group(1)), value.group(2)
        return number / 1000 if unit == "us" else number * 1000 if unit == "s" else number

    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50_ms": ms("50%"),
            "p99_ms": ms("99%"), "requests": int(re.search(r"(\d+) requests in", out).group(1))}


class Connection:
    """A bare HTTP/1.1 keep-alive connection (the fallback load generator when wrk is not installed)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def post(self, path: str, body: dict) -> int:
        data = json.dumps(body).encode()
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def asyncio_load(url: str, path: str, body: dict, concurrency: int, seconds: float) -> dict[str, float]:
    parts = urlsplit(url)
    latencies: list[float] = []
    connections = [Connection(parts.hostname, parts.port) for _ in range(concurrency)]
    await asyncio.gather(*(c.open() for c in connections))
    stop_at = time.perf_counter() + seconds

    async def worker(k: int, connection: Connection) -> None:
        i = 0
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            if await connection.post(path, body | {"seed": k * 1_000_000 + i}) != 200:
                raise RuntimeError(f"{path} answered an error")
            latencies.append(time.perf_counter() - t0)
            i += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker(k, c) for k, c in enumerate(connections)))
    elapsed = time.perf_counter() - start
    for c in connections:
        c.close()
    lat = np.array(latencies) * 1000
    return {"rps": len(lat) / elapsed, "p50_ms": float(np.percentile(lat, 50)),
            "p99_ms": float(np.percentile(lat, 99)), "requests": len(lat)}


def load(url: str, path: str, body: dict, concurrency: int, seconds: float) -> dict[str, float]:
    if shutil.which("wrk"):
        return wrk_load(url, path, body, concurrency, seconds)
    return asyncio.run(asyncio_load(url, path, body, concurrency, seconds))
