"""Serving benchmark: starts the real server and prints, in one run, on this machine:

- requests/s and p50/p99 latency of single-image POST /generate at concurrency 1, 16 and 64, with
  micro-batching on and off (two servers, started one after the other);
- the same for a constant-PNG endpoint of the same server (the HTTP floor);
- bulk images/s for n=256 requests (JSON: 256 separate PNGs), and the in-process generator-plus-PNG
  rate for the same work.

    python -m app.bench                        # dcgan-mnist, 4 s per cell
    python -m app.bench --model cgan-mnist --seconds 8 --json docs/bench.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import torch

from app.config import Settings
from app.local_server import running_server
from models import Generator
from models.checkpoint import load_checkpoint
from models.images import png_bytes, to_uint8


class Connection:
    """A bare HTTP/1.1 keep-alive connection: the load generator must cost far less than the server it
    measures, and a general-purpose client with 64 connections in one process costs more than the server."""

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


async def load(url: str, path: str, body: dict, concurrency: int, seconds: float) -> dict[str, float]:
    """``concurrency`` clients send requests back to back for ``seconds``; returns rate and latency."""
    parts = urlsplit(url)
    latencies: list[float] = []
    connections = [Connection(parts.hostname, parts.port) for _ in range(concurrency)]
    await asyncio.gather(*(c.open() for c in connections))
    # warm the connections first
    await asyncio.gather(*(c.post(path, body | {"seed": k}) for k, c in enumerate(connections)))
    stop_at = time.perf_counter() + seconds

    async def worker(k: int, connection: Connection) -> None:
        i = 0
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            status = await connection.post(path, body | {"seed": k * 1_000_000 + i})
            if status != 200:
                raise RuntimeError(f"{path} answered {status}")
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


def in_process_rate(model: str, n: int = 256, seconds: float = 3.0) -> float:
    """Images/s of the generator plus one PNG per image, without HTTP."""
    G, _ = load_checkpoint(Settings().checkpoint_dir / model, expected_class=Generator)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    G.to(device)
    done, start = 0, time.perf_counter()
    seed = 0
    while time.perf_counter() - start < seconds or done == 0:
        with torch.inference_mode():
            images = to_uint8(G(G.latents_for_seeds(range(seed, seed + n)).to(device)))
        for img in images:
            png_bytes(img)
        done += n
        seed += n
    return done / (time.perf_counter() - start)


def machine() -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} + {os.cpu_count()} CPU cores"
    return f"CPU only: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dcgan-mnist")
    parser.add_argument("--seconds", type=float, default=4.0, help="duration of each measurement")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    single = {"model": args.model, "n": 1}
    results: dict[str, dict] = {}
    for batching in ("on", "off"):
        env = {"GAN_BATCHING": "true" if batching == "on" else "false", "GAN_BENCH_ROUTES": "true"}
        with running_server(env) as url:
            for c in (1, 16, 64):
                results[f"generate batching {batching} c={c}"] = asyncio.run(
                    load(url, "/generate", single, c, args.seconds))
                if batching == "on":
                    results[f"floor c={c}"] = asyncio.run(load(url, "/bench/constant.png", single, c, args.seconds))
            if batching == "on":
                bulk = asyncio.run(load(url, "/generate", {"model": args.model, "n": 256, "format": "json"}, 1,
                                        args.seconds))
                results["bulk n=256 json"] = bulk | {"images_per_s": bulk["rps"] * 256}
    in_process = in_process_rate(args.model)

    print(f"# {args.model} on {machine()}\n")
    print("| measurement | req/s | p50 ms | p99 ms |\n|---|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['rps']:.1f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |")
    bulk_rate = results["bulk n=256 json"]["images_per_s"]
    floor64 = results["floor c=64"]["rps"]
    on64, off64 = results["generate batching on c=64"]["rps"], results["generate batching off c=64"]["rps"]
    print(f"\nbulk n=256: {bulk_rate:.0f} images/s; in-process generator + PNG: {in_process:.0f} images/s "
          f"(ratio {bulk_rate / in_process:.2f})")
    print(f"single image at c=64: {on64 / floor64:.2f} of the HTTP floor; batching on/off: {on64 / off64:.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "machine": machine(), "results": results,
                                         "in_process_images_per_s": in_process}, indent=2))


if __name__ == "__main__":
    main()
