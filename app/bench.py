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
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import torch
from PIL import Image
from pydantic import BaseModel

from app.config import Settings
from app.local_server import free_port, running_server, server_process
from models import Generator
from models.checkpoint import load_checkpoint
from models.files import REPO_ROOT
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


# --- TorchServe, the model server a user would pick instead ----------------------------------------------
TORCHSERVE_HANDLER = REPO_ROOT / "scripts" / "torchserve_handler.py"


def torchserve_ready() -> str | None:
    """None when TorchServe can run here, else why not."""
    missing = [tool for tool in ("torchserve", "torch-model-archiver", "java") if not shutil.which(tool_path(tool))]
    return f"not installed: {', '.join(missing)} (pip install -e '.[bench]'; a Java runtime)" if missing else None


def tool_path(tool: str) -> str:
    beside = Path(sys.executable).parent / tool  # the virtual environment's own, when it is not on PATH
    return str(beside) if beside.exists() else shutil.which(tool) or tool


@contextmanager
def torchserve_server(model: str, batch_size: int = 64, max_delay_ms: int = 5, workers: int = 1,
                      timeout: float = 180.0) -> Iterator[str]:
    """TorchServe serving ``model``'s checkpoint through scripts/torchserve_handler.py in ``workers`` worker
    processes (the issue's setting: one; TorchServe's own default on a CPU machine: one per core), its dynamic
    batching (``batch_size`` requests or ``max_delay_ms``); yields the inference URL, under which
    ``/predictions/<model>`` takes the API's request bodies."""
    with tempfile.TemporaryDirectory() as tmp:
        home, checkpoint = Path(tmp), Settings().checkpoint_dir / model
        store = home / "store"
        store.mkdir()
        subprocess.run([tool_path("torch-model-archiver"), "--model-name", model, "--version", "1.0", "--handler",
                        str(TORCHSERVE_HANDLER), "--extra-files", f"{checkpoint}.safetensors,{checkpoint}.json",
                        "--export-path", str(store), "--archive-format", "no-archive"], check=True)
        inference, management, metrics = (free_port() for _ in range(3))
        registration = {model: {"1.0": {"defaultVersion": True, "marName": model, "minWorkers": workers,
                                        "maxWorkers": workers,
                                        "batchSize": batch_size, "maxBatchDelay": max_delay_ms,
                                        "responseTimeout": 120}}}
        config = home / "config.properties"
        config.write_text("\n".join([
            f"inference_address=http://127.0.0.1:{inference}", f"management_address=http://127.0.0.1:{management}",
            f"metrics_address=http://127.0.0.1:{metrics}", f"model_store={store}", f"load_models={model}",
            f"models={json.dumps(registration)}", "disable_token_authorization=true", ""]))
        with open(home / "torchserve.log", "wb") as log:
            proc = subprocess.Popen([tool_path("torchserve"), "--start", "--foreground", "--ts-config", str(config),
                                     "--model-store", str(store), "--ncs", "--disable-token-auth"],
                                    cwd=home, stdout=log,  # its pid file and unpacked models in home too:
                                    env=os.environ | {"PYTHONPATH": str(REPO_ROOT), "TEMP": tmp, "TMPDIR": tmp},
                                    stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"TorchServe exited:\n{(home / 'torchserve.log').read_text(errors='replace')}")
                try:
                    described = httpx.get(f"http://127.0.0.1:{management}/models/{model}", timeout=2).json()
                    if sum(w.get("status") == "READY" for w in described[0].get("workers", [])) >= workers:
                        break
                except (httpx.HTTPError, ValueError, KeyError, IndexError, AttributeError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"TorchServe not ready in {timeout:g} s")
                time.sleep(0.5)
            yield f"http://127.0.0.1:{inference}"
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


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
class InProcess:
    """What the service does for a bulk request, without HTTP: the seeds' latents, the running copy of the
    generator (memory format, threads), what each image's JSON says about it, and the API's own encoding of the
    response (PNGs, base64 and the JSON body; the grid PNG; the npy bytes), on the service's torch thread."""

    def __init__(self, model: str, device: str) -> None:
        from app.service import GanService

        settings = Settings(device=device)
        self.service = GanService(settings)
        self.service.load_folder(settings.checkpoint_dir)
        self.model, self.seed = model, 0

    def run(self, fmt: str, seconds: float) -> dict[str, float]:
        return self.service.executor.submit(self.measure, fmt, seconds).result()

    def measure(self, fmt: str, seconds: float) -> dict[str, float]:
        from app.api import encode
        from app.service import Frames

        loaded = self.service.models[self.model]
        G, forward = loaded.G, loaded.batcher.forward
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds or done == 0:
            seeds = list(range(self.seed, self.seed + BULK))
            latents = G.latents_for_seeds(seeds)
            images = forward(G.one_hot_rows(latents))
            info = self.service.seed_info(loaded, latents, seeds, False) if fmt == "json" else []
            encode(Frames(images, info, {"seed": seeds[0]}), fmt, self.model, 1, start)
            done, self.seed = done + 1, self.seed + BULK
        return {"rps": done / (time.perf_counter() - start)}

    def close(self) -> None:
        self.service.executor.shutdown()


TURN_S = 2  # wrk takes whole seconds
WARM_S = 10  # load at c=64 on every side before measuring (TorchServe at c=64 on gan-mnist, 2 s runs from start:
# 1,310, 2,240, 2,260, 2,970, 3,730, 3,820, 4,260 req/s: its JIT compiler at work)


def in_turns(sides: dict[str, Callable[[float], dict[str, float]]], seconds: float) -> dict[str, dict[str, float]]:
    """Measures every side for ``seconds`` in all, in turns of TURN_S seconds taken one after another, so that
    the machine's drift during a run (on these shared 2-core machines, +-20% over a minute) falls on every side
    alike. Per side: the mean over turns of req/s, p50 and p99 (turns are equally long)."""
    turns = max(1, round(seconds / TURN_S))
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    for _ in range(turns):
        for name, side in sides.items():
            runs[name].append(side(seconds / turns))
    combine = lambda key, values: float(np.sum(values) if key == "requests" else np.mean(values))  # noqa: E731
    return {name: {key: combine(key, [r[key] for r in rs]) for key in rs[0]} | {"turns": turns}
            for name, rs in runs.items()}


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
def bench_model(model: str, device: str, seconds: float, workers: int, torchserve: bool = False) -> dict:
    """The project's server, the naive one, the floor (and TorchServe) at each concurrency, in turns; bulk over
    HTTP and in process, in turns; then the project in ``workers`` processes."""
    single = {"model": model, "n": 1}
    env = {"GAN_BENCH_ROUTES": "true", "GAN_LOG_LEVEL": "warning", "GAN_DEVICE": device}
    results: dict = {"project": {}, "workers": {}, "naive": {}, "floor": {}, "torchserve": {},
                     "torchserve_workers": {}, "bulk": {}, "in_process": {}}
    in_process = InProcess(model, device)
    naive = ["-m", "app.bench", "--serve-naive", "--port", "{port}", "--models", model, "--device", device]
    with ExitStack() as servers:
        url = servers.enter_context(running_server(env))
        naive_url, _ = servers.enter_context(server_process(argv=naive))
        ts_url = servers.enter_context(torchserve_server(model)) if torchserve else None
        warm = [(url, "/generate"), (url, "/bench/constant.png"), (naive_url, "/generate")]
        warm += [(ts_url, f"/predictions/{model}")] if ts_url else []
        for base, path in warm:  # every side warmed alike: TorchServe's Java front end needs ~10 s to reach speed
            load(base, path, single, 64, WARM_S)
        for c in CONCURRENCY:
            sides = {"project": lambda s, c=c: load(url, "/generate", single, c, s),
                     "naive": lambda s, c=c: load(naive_url, "/generate", single, c, s),
                     "floor": lambda s, c=c: load(url, "/bench/constant.png", single, c, s)}
            if ts_url:
                sides["torchserve"] = lambda s, c=c: load(ts_url, f"/predictions/{model}", single, c, s)
            for side, r in in_turns(sides, seconds).items():
                results[side][c] = r
        for fmt in ("json", "png", "npy"):
            body = {"model": model, "n": BULK, "format": fmt}
            turns = in_turns({"http": lambda s, body=body: load(url, "/generate", body, 1, s),
                              "in_process": lambda s, fmt=fmt: in_process.run(fmt, s)}, seconds)
            results["bulk"][fmt] = turns["http"] | {"images_per_s": turns["http"]["rps"] * BULK}
            results["in_process"][fmt] = turns["in_process"]["rps"] * BULK
    in_process.close()
    if workers > 1:  # the same server in GAN_WORKERS processes (and TorchServe with as many workers), in turns
        with ExitStack() as servers:
            url = servers.enter_context(running_server(env | {"GAN_WORKERS": str(workers)}))
            ts_url = servers.enter_context(torchserve_server(model, workers=workers)) if torchserve else None
            load(url, "/generate", single, 64, WARM_S)
            if ts_url:
                load(ts_url, f"/predictions/{model}", single, 64, WARM_S)
            for c in CONCURRENCY:
                sides = {"workers": lambda s, c=c: load(url, "/generate", single, c, s)}
                if ts_url:
                    sides["torchserve_workers"] = lambda s, c=c: load(ts_url, f"/predictions/{model}", single, c, s)
                for side, r in in_turns(sides, seconds).items():
                    results[side][c] = r
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
    if torchserve:
        ts = results["torchserve"]
        results["ratios"] |= {"c1_p50_latency_project_over_torchserve": project[1]["p50_ms"] / ts[1]["p50_ms"],
                              "c64_rps_project_over_torchserve": project[64]["rps"] / ts[64]["rps"],
                              "c64_rps_best_project_over_torchserve": best64 / ts[64]["rps"]}
        if workers > 1:
            results["ratios"]["c64_rps_workers_over_torchserve_workers"] = (
                results["workers"][64]["rps"] / results["torchserve_workers"][64]["rps"])
    return results


def markdown(all_results: dict, device: str, seconds: float, workers: int) -> str:
    tool = "wrk (1 thread)" if shutil.which("wrk") else "the bench's asyncio client"
    precision = os.environ.get("GAN_PRECISION", "float32")
    lines = [f"`python -m app.bench` on {machine(device)}, {seconds:g} s per point, taken in turns of {TURN_S} s "
             "with the sides it is compared with (project, naive and floor at each concurrency; bulk over HTTP and "
             f"in process), load from {tool} on the same machine, each request its own seed; the project's "
             f"generators in {precision}.", ""]
    for model, r in all_results.items():
        lines += [f"### {model}", "", "| single-image POST /generate | req/s | p50 ms | p99 ms |",
                  "|---|---:|---:|---:|"]
        for who, label in (("project", "project"), ("workers", f"project, {workers} workers"), ("naive", "naive"),
                           ("torchserve", "TorchServe (batch 64, 5 ms)"),
                           ("torchserve_workers", f"TorchServe, {workers} workers"), ("floor", "floor")):
            for c, x in r.get(who, {}).items():
                lines.append(f"| {label} c={c} | {x['rps']:.0f} | {x['p50_ms']:.2f} | {x['p99_ms']:.2f} |")
        lines += ["", "| bulk n=256 | images/s | in-process images/s | ratio |", "|---|---:|---:|---:|"]
        for fmt in ("json", "png", "npy"):
            lines.append(f"| {fmt} | {r['bulk'][fmt]['images_per_s']:.0f} | {r['in_process'][fmt]:.0f} | "
                         f"{r['ratios'][f'bulk_{fmt}_over_in_process']:.2f} |")
        q = r["ratios"]
        lines += ["", f"c=1 p50 latency, project / naive: {q['c1_p50_latency_project_over_naive']:.2f} (goal <= 1); "
                  f"c=64 req/s, project / naive: {q['c64_rps_project_over_naive']:.2f} (one process), "
                  f"{q['c64_rps_best_project_over_naive']:.2f} (best of 1 and {workers} workers); "
                  f"project / floor at c=64: {q['c64_rps_project_over_floor']:.2f}."]
        if "c64_rps_project_over_torchserve" in q:
            lines[-1] += (f" Against TorchServe: c=1 p50 latency {q['c1_p50_latency_project_over_torchserve']:.2f}, "
                          f"c=64 req/s {q['c64_rps_project_over_torchserve']:.2f} (one process), "
                          f"{q['c64_rps_best_project_over_torchserve']:.2f} (best; goal >= 1.3).")
        if "c64_rps_workers_over_torchserve_workers" in q:
            lines[-1] += (f" {workers} project workers against TorchServe with {workers} workers (its default here, "
                          f"one per core) at c=64: {q['c64_rps_workers_over_torchserve_workers']:.2f}.")
        lines.append("")
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
    parser.add_argument("--torchserve", action="store_true", help="also measure TorchServe (batch 64, 5 ms) on the "
                        "same checkpoint: pip install -e '.[bench]' and a Java runtime")
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
    if args.torchserve and (why := torchserve_ready()):
        parser.error(f"--torchserve: TorchServe is {why}")
    results = {model: bench_model(model, args.device, args.seconds, args.workers, args.torchserve)
               for model in args.models.split(",")}
    text = markdown(results, args.device, args.seconds, args.workers)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(args.device), "seconds": args.seconds,
                                         "results": results}, indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
