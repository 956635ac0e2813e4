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

    python -m bench                                  # all four models, 4 s per point
    python -m bench --models dcgan-mnist --seconds 8 --json docs/bench-cpu.json --markdown docs/bench-cpu.md
    python -m bench --device cuda                    # on a GPU machine
    python -m bench --device cuda --precision float16   # the project (and TorchServe) in float16; the naive
                                                        # server stays float32
    python -m bench --precision bfloat16 --torchserve --workers 1   # a CPU with AVX-512 BF16: both in bfloat16
    python -m bench --pixels --precision bfloat16     # how far bfloat16 moves each shipped generator's pixels
    python -m bench --backend onnxruntime             # the project on ONNX Runtime (python -m bench.runtime_bench
                                                      # --backends: the two backends' forward passes alone)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import torch

from app.config import Settings
from bench.load import load
from bench.peers import serve_naive, torchserve_ready, torchserve_server
from models import Generator
from models.checkpoint import load_checkpoint
from tests.server import FLOOR, running_server, server_process

MODELS = ["dcgan-mnist", "cgan-mnist", "infogan-mnist", "gan-mnist"]
CONCURRENCY = (1, 16, 64)
BULK = 256

# --- in-process reference ---------------------------------------------------------------------------------
class InProcess:
    """What the service does for a bulk request, without HTTP: the seeds' latents, the running copy of the
    generator (memory format, threads), what each image's JSON says about it, and the API's own encoding of the
    response (PNGs, base64 and the JSON body; the grid PNG; the npy bytes), on the service's torch thread."""

    def __init__(self, model: str, device: str) -> None:
        from app.service import GanService

        settings = Settings(device=device)
        self.service = GanService(settings)
        self.service.registry.load_all()
        self.model, self.seed = model, 0

    def run(self, fmt: str, seconds: float) -> dict[str, float]:
        return self.service.runner.executor.submit(self.measure, fmt, seconds).result()

    def measure(self, fmt: str, seconds: float) -> dict[str, float]:
        from app.responses import encode
        from app.service import Frames, seed_info

        loaded = self.service.registry.models[self.model]
        G, forward = loaded.G, loaded.batcher.forward
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds or done == 0:
            seeds = list(range(self.seed, self.seed + BULK))
            latents = G.latents_for_seeds(seeds)
            images = forward(latents)
            info = seed_info(loaded, latents, seeds, False) if fmt == "json" else []
            encode(Frames(images, info, {"seed": seeds[0]}), fmt, self.model, 1, start)
            done, self.seed = done + 1, self.seed + BULK
        return {"rps": done / (time.perf_counter() - start)}

    def close(self) -> None:
        self.service.runner.executor.shutdown()


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
    from app.runner import Runner

    runners = [Runner(Settings(device=device, precision="float32", cuda_graphs=False)),
               Runner(Settings(device=device, precision=precision, cuda_graphs=cuda_graphs))]
    moves = {}
    for card in sorted(Settings().checkpoint_dir.glob("*.json")):
        if json.loads(card.read_text()).get("kind") != "generator":
            continue
        G, _ = load_checkpoint(card.with_suffix(""), device, expected_class=Generator)
        latents = G.latents_for_seeds(range(seeds))
        full_fn, low_fn = (runner.forward_fn(G) for runner in runners)
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
    env = {"GAN_LOG_LEVEL": "warning", "GAN_DEVICE": device}
    results: dict = {"project": {}, "workers": {}, "naive": {}, "floor": {}, "torchserve": {},
                     "torchserve_workers": {}, "bulk": {}, "in_process": {}}
    in_process = InProcess(model, device)
    ts_precision = torchserve_precision()
    naive = ["-m", "bench", "--serve-naive", "--port", "{port}", "--models", model, "--device", device]
    with ExitStack() as servers:
        url = servers.enter_context(running_server(env, argv=FLOOR))
        naive_url, _ = servers.enter_context(server_process(argv=naive))
        ts_url = servers.enter_context(torchserve_server(model, precision=ts_precision)) if torchserve else None
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
            url = servers.enter_context(running_server(env | {"GAN_WORKERS": str(workers)}, argv=FLOOR))
            ts_url = (servers.enter_context(torchserve_server(model, workers=workers, precision=ts_precision))
                      if torchserve else None)
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


def torchserve_precision() -> str:
    """TorchServe's handler does the project's arithmetic (GAN_PRECISION), float32 when the project runs on ONNX
    Runtime (which runs its graphs in float32)."""
    if os.environ.get("GAN_BACKEND", "torch") == "onnxruntime":
        return "float32"
    return os.environ.get("GAN_PRECISION", "float32")


def markdown(all_results: dict, device: str, seconds: float, workers: int) -> str:
    tool = "wrk (1 thread)" if shutil.which("wrk") else "the bench's asyncio client"
    precision = os.environ.get("GAN_PRECISION", "float32")
    if os.environ.get("GAN_BACKEND", "torch") == "onnxruntime":
        precision = "float32 on ONNX Runtime"
    lines = [f"`python -m bench` on {machine(device)}, {seconds:g} s per point, taken in turns of {TURN_S} s "
             "with the sides it is compared with (project, naive and floor at each concurrency; bulk over HTTP and "
             f"in process), load from {tool} on the same machine, each request its own seed; the project's "
             f"generators in {precision} (TorchServe's in {torchserve_precision()}).", ""]
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
    parser.add_argument("--backend", choices=["torch", "onnxruntime"],
                        help="GAN_BACKEND for the project's servers and its in-process path (default: as set)")
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
    if args.backend:
        os.environ["GAN_BACKEND"] = args.backend
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
