"""Side-by-side serving benchmark, in one run on this machine, on the same checkpoints:

- this project's server (``gan-serve``), single-image POST /generate at concurrency 1, 16 and 64, in one
  process and in ``--workers`` processes (GAN_WORKERS);
- a naive baseline written here: the obvious FastAPI server (one forward pass per request in FastAPI's
  threadpool, one torch thread, a PNG per request) under uvicorn, the same requests;
- the project's HTTP floor: the same server answering a constant PNG to the same request body;
- bulk: n=256 requests as JSON (256 PNGs), one PNG grid, and raw npy pixels, against the in-process rate of
  the same generator path and the same encoding.

Load comes from wrk (Debian's ``wrk``; a C load generator, far cheaper than the servers) with a Lua script that
gives each request its own seed; without wrk, from a bare asyncio HTTP/1.1 client. Prints tables and the
ratios the goals are stated in; ``--json`` and ``--markdown`` write them.

    python -m app.bench                                  # all four models, 4 s per point
    python -m app.bench --models dcgan-mnist --seconds 8 --json docs/bench-cpu.json --markdown docs/bench-cpu.md
    python -m app.bench --device cuda                    # on a GPU machine
    python -m app.bench --device cuda --precision float16   # the project in float16; the naive server stays float32
    python -m app.bench --pixels --precision bfloat16     # how far bfloat16 moves each shipped generator's pixels
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import torch
from PIL import Image
from pydantic import BaseModel

from app.config import Settings
from app.local_server import running_server, server_process
from models import Generator
from models.checkpoint import load_checkpoint
from models.images import grid_array

MODELS = ["dcgan-mnist", "cgan-mnist", "infogan-mnist", "gan-mnist"]
CONCURRENCY = (1, 16, 64)
BULK = 256

WRK_SCRIPT = """
local prefix = os.getenv("BENCH_BODY")
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, prefix .. ',"seed":' .. counter .. "}")
end
"""


# --- the naive baseline server ----------------------------------------------------------------------------
class NaiveBody(BaseModel):
    model: str
    n: int = 1
    seed: int = 0


def naive_app(model: str, device: str):
    """The server a user would write first: a sync route, so FastAPI runs each forward pass alone in its
    threadpool; one torch thread (more threads per request only fight each other); the PNG from Pillow as its
    documentation shows it (the project writes its PNGs itself, see models.images.png_bytes)."""
    from fastapi import FastAPI
    from fastapi.responses import Response

    torch.set_num_threads(1)
    G, _ = load_checkpoint(Settings().checkpoint_dir / model, device, expected_class=Generator)
    app = FastAPI()

    @app.post("/generate")
    def generate(body: NaiveBody) -> Response:
        latents = G.latents_for_seeds(range(body.seed, body.seed + body.n))
        for name in ("labels", "categories"):  # class indices as one-hot rows, as the project feeds them
            value = getattr(latents, name)
            if value is not None:
                setattr(latents, name, torch.nn.functional.one_hot(value, G.num_classes or G.num_categories).float())
        with torch.inference_mode():
            images = ((G(latents.to(device)).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        array = images.permute(0, 2, 3, 1).cpu().numpy()
        picture = array[0] if body.n == 1 else grid_array(array)
        buffer = io.BytesIO()
        Image.fromarray(picture[:, :, 0] if picture.shape[2] == 1 else picture).save(buffer, format="PNG")
        return Response(buffer.getvalue(), media_type="image/png")

    return app


def serve_naive(model: str, port: int, device: str) -> None:
    import uvicorn

    uvicorn.run(naive_app(model, device), host="127.0.0.1", port=port, log_level="warning")


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


# --- in-process reference ---------------------------------------------------------------------------------
def in_process_rates(model: str, device: str, seconds: float = 2.0) -> dict[str, float]:
    """Images/s of what the service does for a bulk request, without HTTP: the seeds' latents, the running copy of
    the generator (memory format, threads), what each image's JSON says about it, and the API's own encoding of
    the response (PNGs, base64 and the JSON body; the grid PNG; the npy bytes)."""
    from app.api import encode
    from app.service import Frames, GanService

    settings = Settings(device=device)
    service = GanService(settings)
    service.load_folder(settings.checkpoint_dir)
    loaded = service.models[model]
    G, forward = loaded.G, loaded.batcher.forward
    rates = {}

    def measure(fmt: str) -> float:
        done, seed, start = 0, 0, time.perf_counter()
        while time.perf_counter() - start < seconds or done == 0:
            seeds = list(range(seed, seed + BULK))
            latents = G.latents_for_seeds(seeds)
            images = forward(G.one_hot_rows(latents))
            info = ([{"seed": s} | service.describe(loaded, latents, i, False) for i, s in enumerate(seeds)]
                    if fmt == "json" else [])
            encode(Frames(images, info, {"seed": seeds[0]}), fmt, model, 1, start)
            done, seed = done + BULK, seed + BULK
        return done / (time.perf_counter() - start)

    for fmt in ("json", "png", "npy"):  # on the service's torch thread, with the threads it uses for bulk
        rates[fmt] = service.executor.submit(measure, fmt).result()
    service.executor.shutdown()
    return rates


def pixel_moves(precision: str, seeds: int = 256, device: str = "cpu",
                cuda_graphs: bool = False) -> dict[str, dict[str, float]]:
    """For every generator in the checkpoint folder: how far the service's ``precision`` path (with
    ``cuda_graphs``, as graphs) moves pixels against its float32 eager path (same settings otherwise), over
    ``seeds`` seeds: the largest move in grey levels and the share of pixels moved by more than one; and, as
    batching invariance, the largest move between the first 8 seeds run one by one and the same seeds in the batch."""
    from app.service import GanService

    services = [GanService(Settings(device=device, precision="float32", cuda_graphs=False)),
                GanService(Settings(device=device, precision=precision, cuda_graphs=cuda_graphs))]
    moves = {}
    for card in sorted(Settings().checkpoint_dir.glob("*.json")):
        if json.loads(card.read_text()).get("kind") != "generator":
            continue
        G, _ = load_checkpoint(card.with_suffix(""), device, expected_class=Generator)
        latents = G.one_hot_rows(G.latents_for_seeds(range(seeds)))
        full_fn, low_fn = (service.forward_fn(G) for service in services)
        full, low = (fn(latents).astype(np.int16) for fn in (full_fn, low_fn))
        alone = np.concatenate([low_fn(latents[i : i + 1]) for i in range(8)]).astype(np.int16)
        diff = np.abs(low - full)
        moves[card.stem] = {"max": int(diff.max()), "share_over_1": float((diff > 1).mean()),
                            "batch_max": int(np.abs(alone - low[:8]).max())}
    return moves


def machine(device: str) -> str:
    cpus = f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()})"
    if device == "cuda" and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} + {cpus}"
    return f"CPU only: {cpus}"


# --- the run ----------------------------------------------------------------------------------------------
def bench_model(model: str, device: str, seconds: float, workers: int) -> dict:
    single = {"model": model, "n": 1}
    env = {"GAN_BENCH_ROUTES": "true", "GAN_LOG_LEVEL": "warning", "GAN_DEVICE": device}
    results: dict = {"project": {}, "workers": {}, "naive": {}, "floor": {}, "bulk": {}}
    with running_server(env) as url:
        for c in CONCURRENCY:
            results["project"][c] = load(url, "/generate", single, c, seconds)
            results["floor"][c] = load(url, "/bench/constant.png", single, c, seconds)
        for fmt in ("json", "png", "npy"):
            r = load(url, "/generate", {"model": model, "n": BULK, "format": fmt}, 1, seconds)
            results["bulk"][fmt] = r | {"images_per_s": r["rps"] * BULK}
    if workers > 1:  # the same server in GAN_WORKERS processes
        with running_server(env | {"GAN_WORKERS": str(workers)}) as url:
            for c in CONCURRENCY:
                results["workers"][c] = load(url, "/generate", single, c, seconds)
    naive = ["-m", "app.bench", "--serve-naive", "--port", "{port}", "--models", model, "--device", device]
    with server_process(argv=naive) as (url, _):
        for c in CONCURRENCY:
            results["naive"][c] = load(url, "/generate", single, c, seconds)
    results["in_process"] = in_process_rates(model, device)
    project, naive = results["project"], results["naive"]
    best64 = max(project[64]["rps"], results["workers"].get(64, {}).get("rps", 0))
    results["ratios"] = {
        "c1_p50_latency_project_over_naive": project[1]["p50_ms"] / naive[1]["p50_ms"],
        "c64_rps_project_over_naive": project[64]["rps"] / naive[64]["rps"],
        "c64_rps_best_project_over_naive": best64 / naive[64]["rps"],
        "c64_rps_project_over_floor": project[64]["rps"] / results["floor"][64]["rps"],
        **{f"bulk_{fmt}_over_in_process": results["bulk"][fmt]["images_per_s"] / results["in_process"][fmt]
           for fmt in ("json", "png", "npy")},
    }
    return results


def markdown(all_results: dict, device: str, seconds: float, workers: int) -> str:
    tool = "wrk (1 thread)" if shutil.which("wrk") else "the bench's asyncio client"
    precision = os.environ.get("GAN_PRECISION", "float32")
    lines = [f"`python -m app.bench` on {machine(device)}, {seconds:g} s per point, load from {tool} on the same "
             f"machine, each request its own seed; the project's generators in {precision}.", ""]
    for model, r in all_results.items():
        lines += [f"### {model}", "", "| single-image POST /generate | req/s | p50 ms | p99 ms |",
                  "|---|---:|---:|---:|"]
        for who, label in (("project", "project"), ("workers", f"project, {workers} workers"), ("naive", "naive"),
                           ("floor", "floor")):
            for c, x in r[who].items():
                lines.append(f"| {label} c={c} | {x['rps']:.0f} | {x['p50_ms']:.2f} | {x['p99_ms']:.2f} |")
        lines += ["", "| bulk n=256 | images/s | in-process images/s | ratio |", "|---|---:|---:|---:|"]
        for fmt in ("json", "png", "npy"):
            lines.append(f"| {fmt} | {r['bulk'][fmt]['images_per_s']:.0f} | {r['in_process'][fmt]:.0f} | "
                         f"{r['ratios'][f'bulk_{fmt}_over_in_process']:.2f} |")
        q = r["ratios"]
        lines += ["", f"c=1 p50 latency, project / naive: {q['c1_p50_latency_project_over_naive']:.2f} (goal <= 1); "
                  f"c=64 req/s, project / naive: {q['c64_rps_project_over_naive']:.2f} (one process), "
                  f"{q['c64_rps_best_project_over_naive']:.2f} (best of 1 and {workers} workers); "
                  f"project / floor at c=64: {q['c64_rps_project_over_floor']:.2f}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated")
    parser.add_argument("--seconds", type=float, default=4.0, help="duration of each measurement")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--precision", choices=["float32", "float16", "bfloat16"],
                        help="GAN_PRECISION for the project's servers and its in-process path (default: as set)")
    parser.add_argument("--cuda-graphs", action="store_true",
                        help="GAN_CUDA_GRAPHS for the project's servers and its in-process path (with --device cuda)")
    parser.add_argument("--pixels", action="store_true", help="only print how far --precision (and --cuda-graphs) "
                        "move each shipped generator's pixels against float32 run eagerly")
    parser.add_argument("--workers", type=int, default=2, help="also measure GAN_WORKERS=this (1: skip)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--markdown", type=Path, help="write the tables here")
    parser.add_argument("--serve-naive", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_naive:
        serve_naive(args.models, args.port, args.device)
        return
    if args.pixels:
        precision = args.precision or ("float32" if args.cuda_graphs else "float16")
        for name, move in pixel_moves(precision, device=args.device, cuda_graphs=args.cuda_graphs).items():
            print(f"{name}: at most {move['max']} grey levels, {move['share_over_1']:.4%} of pixels by more than 1; "
                  f"one by one against batched: at most {move['batch_max']}")
        return
    if args.precision:  # the servers inherit the environment; the in-process path reads it through Settings
        os.environ["GAN_PRECISION"] = args.precision
    if args.cuda_graphs:
        os.environ["GAN_CUDA_GRAPHS"] = "true"
    results = {model: bench_model(model, args.device, args.seconds, args.workers) for model in args.models.split(",")}
    text = markdown(results, args.device, args.seconds, args.workers)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(args.device), "seconds": args.seconds,
                                         "results": results}, indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
