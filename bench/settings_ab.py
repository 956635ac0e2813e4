"""The project's server under two or more settings, side by side in one run: single-image POST /generate at c=64
(wrk) against one server per setting, in alternating turns, for each model. How a default is chosen.

    python -m bench.settings_ab --setting GAN_THREADS_FROM_ROWS=64 --setting GAN_THREADS_FROM_ROWS=16
    python -m bench.settings_ab --setting GAN_GIL_SWITCH_MS=5 --setting GAN_GIL_SWITCH_MS=0.2 --models gan-mnist

A setting is ``NAME=VALUE[,NAME=VALUE...]`` passed to its server's environment; ``--rounds`` repeats each model's
measurement (machines here drift by 20% within a minute: a choice should hold in every round).
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack

from bench.load import load
from bench.serving import in_turns, machine
from tests.server import server_process


def environment(setting: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in setting.split(","))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setting", action="append", required=True, help="NAME=VALUE[,NAME=VALUE...] (twice or more)")
    parser.add_argument("--models", default="dcgan-mnist,cgan-mnist,infogan-mnist,gan-mnist")
    parser.add_argument("--seconds", type=float, default=6.0, help="per setting and round, in turns of 2 s")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    if len(args.setting) < 2:
        parser.error("give --setting at least twice")
    first = args.setting[0]
    print(f"`python -m bench.settings_ab` on {machine('cpu')}: single images at c=64, {args.seconds:g} s per setting "
          f"and round, in turns; ratios against {first}")
    print("| model | round | " + " | ".join(f"{s} req/s (p99 ms)" for s in args.setting) + " |")
    print("|---|---:|" + "---:|" * len(args.setting))
    for model in args.models.split(","):
        with ExitStack() as servers:
            urls = {s: servers.enter_context(server_process({"GAN_LOG_LEVEL": "warning"} | environment(s)))[0]
                    for s in args.setting}
            body = {"model": model, "n": 1}
            for url in urls.values():
                load(url, "/generate", body, 64, 2)  # warm
            for k in range(1, args.rounds + 1):
                sides = {s: lambda t, u=url, b=body: load(u, "/generate", b, 64, t) for s, url in urls.items()}
                r = in_turns(sides, args.seconds)
                cells = [f"{r[s]['rps']:.0f} ({r[s]['p99_ms']:.1f})"
                         + ("" if s == first else f" {r[s]['rps'] / r[first]['rps']:.2f}x") for s in args.setting]
                print(f"| {model} | {k} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
