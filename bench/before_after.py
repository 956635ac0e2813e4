"""The project's server from two checkouts, side by side in one run: this one and another (``--base``, e.g. a
``git worktree`` of an older commit), single-image POST /generate at c=1 and c=64 and bulk n=256 (npy and JSON)
under wrk, in alternating turns, for each model. How a redesign shows that it cost nothing.

    git worktree add /tmp/base 5874df3 && python -m bench.before_after --base /tmp/base --models dcgan-mnist
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from pathlib import Path

from bench.load import load
from bench.serving import in_turns, machine
from tests.server import server_process


def serve_command(tree: Path) -> list[str]:
    """How that checkout starts its server: ``python -m app`` since the redesign, ``python -m app`` before."""
    module = "app" if (tree / "app" / "__main__.py").exists() else "app.main"
    return ["-m", module, "--host", "127.0.0.1", "--port", "{port}"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True, help="the other checkout (the 'before')")
    parser.add_argument("--models", default="dcgan-mnist,cgan-mnist,infogan-mnist,gan-mnist")
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args(argv)
    here = Path(__file__).resolve().parent.parent
    trees = {"before": args.base.resolve(), "after": here}
    print(f"`python -m bench.before_after` on {machine('cpu')}, {args.seconds:g} s per point in turns; "
          f"before: {trees['before']}, after: {here}")
    print("| model | request | before req/s | after req/s | after / before | before p99 ms | after p99 ms |")
    print("|---|---|---:|---:|---:|---:|---:|")
    points = [("n=1 c=1", {"n": 1}, 1), ("n=1 c=64", {"n": 1}, 64), ("n=256 npy c=1", {"n": 256, "format": "npy"}, 1),
              ("n=256 json c=1", {"n": 256, "format": "json"}, 1)]
    for model in args.models.split(","):
        with ExitStack() as servers:
            urls = {side: servers.enter_context(server_process({"GAN_LOG_LEVEL": "warning"}, argv=serve_command(tree),
                                                               cwd=tree))[0]
                    for side, tree in trees.items()}
            for url in urls.values():
                load(url, "/generate", {"model": model, "n": 1}, 64, 4)  # warm
            for label, extra, c in points:
                body = {"model": model} | extra
                r = in_turns({side: lambda s, url=url, body=body, c=c: load(url, "/generate", body, c, s)
                              for side, url in urls.items()}, args.seconds)
                b, a = r["before"], r["after"]
                print(f"| {model} | {label} | {b['rps']:.0f} | {a['rps']:.0f} | {a['rps'] / b['rps']:.2f} | "
                      f"{b['p99_ms']:.1f} | {a['p99_ms']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
