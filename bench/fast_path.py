"""What the fast path of POST /generate (app/fastpath.py) is worth: the same server with GAN_FAST_PATH on and off,
single-image requests at c=1 and c=64 under wrk, measured in alternating turns in one run.

    python -m bench.fast_path --models dcgan-mnist,gan-mnist --seconds 8
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack

from bench.load import load
from bench.serving import in_turns, machine
from tests.server import running_server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="dcgan-mnist,gan-mnist")
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args(argv)
    print(f"`python -m bench.fast_path` on {machine('cpu')}, {args.seconds:g} s per point in turns")
    print("| model | c | fast path req/s | routed req/s | ratio | fast p99 ms | routed p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for model in args.models.split(","):
        body = {"model": model, "n": 1}
        with ExitStack() as servers:
            urls = {on: servers.enter_context(running_server({"GAN_FAST_PATH": on})) for on in ("true", "false")}
            for url in urls.values():
                load(url, "/generate", body, 64, 4)  # warm
            for c in (1, 64):
                r = in_turns({on: lambda s, url=url, c=c, body=body: load(url, "/generate", body, c, s)
                              for on, url in urls.items()}, args.seconds)
                fast, routed = r["true"], r["false"]
                print(f"| {model} | {c} | {fast['rps']:.0f} | {routed['rps']:.0f} | {fast['rps'] / routed['rps']:.2f} "
                      f"| {fast['p99_ms']:.1f} | {routed['p99_ms']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
