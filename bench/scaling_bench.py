"""Requests/s of the same model behind the plain server and behind Ray Serve with 1 and 2 replicas, in one run.

    python -m bench.scaling_bench --seconds 6 --json docs/scaling-cpu.json --markdown docs/scaling-cpu.md

Single-image ``POST /generate`` (each request its own seed) at c=1 and c=64 with wrk (the benchmark's load
generator, bench/serving.py), one server at a time on this machine: ``gan-serve`` in one process and with
``GAN_WORKERS=2``, then ``gan-serve --engine ray --replicas 1`` and ``--replicas 2`` (a local Ray cluster, one
CPU reserved per replica) in Ray Serve's high-throughput mode (HAProxy straight to the replicas' HTTP ports,
gan-serve's default) and, with ``--proxy-rows``, behind Ray's Python proxy (GAN_RAY_HIGH_THROUGHPUT=false); and bulk
requests of 64 images at c=8. p99 latency for every row; a non-2xx answer or a socket error stops the run
(bench/load.py), so every row printed had none.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import load  # noqa: E402
from bench.serving import machine  # noqa: E402
from tests.server import SERVE, server_process, wait_for_replicas  # noqa: E402

RAY = ["-m", "app", "--engine", "ray", "--host", "127.0.0.1", "--port", "{port}", "--replicas"]


def measure(model: str, seconds: float, proxy_rows: bool = False) -> dict:
    body = {"model": model, "n": 1}
    servers = {
        "gan-serve, 1 process": (SERVE, {}, 0),
        "gan-serve, GAN_WORKERS=2": (SERVE, {"GAN_WORKERS": "2"}, 0),
        "Ray Serve, 1 replica": ([*RAY, "1"], {}, 1),
        "Ray Serve, 2 replicas": ([*RAY, "2"], {}, 2),
    }
    if proxy_rows:  # Ray's Python proxy instead of HAProxy and direct ingress
        off = {"GAN_RAY_HIGH_THROUGHPUT": "false"}
        servers |= {"Ray Serve, 1 replica, Ray's proxy": ([*RAY, "1"], off, 1),
                    "Ray Serve, 2 replicas, Ray's proxy": ([*RAY, "2"], off, 2)}
    results = {}
    for name, (argv, env, replicas) in servers.items():
        with server_process(env, timeout=240, argv=argv, stop_timeout=60) as (url, _):
            if replicas:
                wait_for_replicas(url, replicas, timeout=240)
            load(url, "/generate", body, 16, 2)  # warm-up
            results[name] = {f"c={c}": load(url, "/generate", body, c, seconds) for c in (1, 64)}
            # bulk: the model's work per request outweighs the hops in front of it
            results[name]["bulk"] = load(url, "/generate", body | {"n": 64}, 8, seconds)
            print(name, results[name], flush=True)
    return results


def markdown(results: dict, model: str, seconds: float) -> str:
    lines = [f"`{model}`, single-image POST /generate, wrk {seconds:g} s per point, {machine('cpu')}:", "",
             "| server | c=1 req/s | c=1 p50 ms | c=1 p99 ms | c=64 req/s | c=64 p50 ms | c=64 p99 ms | bulk images/s "
             "| bulk p99 ms |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        one, many = r["c=1"], r["c=64"]
        lines.append(f"| {name} | {one['rps']:.0f} | {one['p50_ms']:.2f} | {one['p99_ms']:.2f} | {many['rps']:.0f} | "
                     f"{many['p50_ms']:.1f} | {many['p99_ms']:.1f} | {64 * r['bulk']['rps']:.0f} | "
                     f"{r['bulk']['p99_ms']:.0f} |")
    ray1, ray2 = results["Ray Serve, 1 replica"]["c=64"]["rps"], results["Ray Serve, 2 replicas"]["c=64"]["rps"]
    plain = results["gan-serve, 1 process"]["c=64"]["rps"]
    bulk1, bulk2 = (results[f"Ray Serve, {k}"]["bulk"]["rps"] for k in ("1 replica", "2 replicas"))
    lines += ["", "Bulk: 64 images per request (one PNG grid), 8 connections. No row had a non-2xx answer or a socket "
              "error (either stops the run).", "",
              f"c=64: 2 replicas / 1 replica = {ray2 / ray1:.2f}; Ray Serve 1 replica / gan-serve 1 process = "
              f"{ray1 / plain:.2f}. Bulk: 2 replicas / 1 replica = {bulk2 / bulk1:.2f}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dcgan-mnist")
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--proxy-rows", action="store_true", help="also Ray Serve behind Ray's Python proxy")
    args = parser.parse_args(argv)
    results = measure(args.model, args.seconds, args.proxy_rows)
    text = markdown(results, args.model, args.seconds)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "seconds": args.seconds, "results": results}, indent=1))
    if args.markdown:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
