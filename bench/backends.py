"""The service on each backend, side by side in one run: ``gan-serve`` (one process) with GAN_BACKEND=torch and
with GAN_BACKEND=onnxruntime, single-image POST /generate at c=1 and c=64 (wrk, each request its own seed) and
bulk n=256 npy requests at c=4, for each digit model, the two servers in turns (every point measured on one, then
the other, ``--rounds`` times; the best of each kept).

    python -m bench.backends --seconds 4 --rounds 2 [--markdown docs/backends-cpu.md]

Prints one table and the ratio onnxruntime / torch of each point. ``python -m bench.runtime_bench --backends``
measures the forward passes alone, in process.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import load  # noqa: E402
from bench.serving import machine  # noqa: E402
from tests.server import running_server  # noqa: E402

MODELS = ["gan-mnist", "dcgan-mnist", "cgan-mnist", "infogan-mnist"]
BACKENDS = ["torch", "onnxruntime"]
POINTS = {"c=1": ({"n": 1}, 1), "c=64": ({"n": 1}, 64), "bulk npy n=256, c=4": ({"n": 256, "format": "npy"}, 4)}


def measure(models: list[str], seconds: float, rounds: int) -> dict:
    results: dict = {}
    with ExitStack() as stack:
        urls = {b: stack.enter_context(running_server({"GAN_BACKEND": b}, timeout=120)) for b in BACKENDS}
        for model in models:
            for url in urls.values():  # warm-up: the batcher's sizes, both servers
                load(url, "/generate", {"model": model, "n": 1}, 16, 1)
            for point, (body, concurrency) in POINTS.items():
                for _ in range(rounds):
                    for backend, url in urls.items():
                        got = load(url, "/generate", {"model": model} | body, concurrency, seconds)
                        best = results.setdefault(model, {}).setdefault(point, {}).get(backend)
                        if best is None or got["rps"] > best["rps"]:
                            results[model][point][backend] = got
            print(model, {p: {b: round(r["rps"]) for b, r in v.items()} for p, v in results[model].items()},
                  flush=True)
    return results


def markdown(results: dict, seconds: float, rounds: int) -> str:
    lines = [f"gan-serve in one process, GAN_BACKEND=torch vs onnxruntime, wrk {seconds:g} s a point, best of "
             f"{rounds}, the two servers in turns; {machine('cpu')}. Single images in requests/s (p99 ms); bulk in "
             "images/s.", "",
             "| model | point | torch | onnxruntime | onnxruntime / torch |", "|---|---|---:|---:|---:|"]
    for model, points in results.items():
        for point, by in points.items():
            scale = 256 if point.startswith("bulk") else 1
            t, o = by["torch"], by["onnxruntime"]
            lines.append(f"| {model} | {point} | {scale * t['rps']:.0f} ({t['p99_ms']:.1f}) | "
                         f"{scale * o['rps']:.0f} ({o['p99_ms']:.1f}) | {o['rps'] / t['rps']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args(argv)
    results = measure(args.models.split(","), args.seconds, args.rounds)
    text = markdown(results, args.seconds, args.rounds)
    print(text)
    if args.markdown:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
