"""Where a request's time goes inside the app, without HTTP: the FastAPI app called as ASGI in this process (uvloop),
one request after another, with the generator's forward pass and the response encoding timed on their own.

    python -m bench.asgi_profile --model gan-mnist --n 256 --format json
    python -m bench.asgi_profile --model gan-mnist --n 1 --requests 3000
    python -m bench.asgi_profile --model gan-mnist --path /bench/constant.png     # the app's floor
    python -m bench.asgi_profile --model gan-mnist --n 1 --requests 20000 --concurrency 64   # batched, as under load

Prints milliseconds per request: in all, in the forward pass (on the torch thread) and in encode (PNG/JSON/npy).
With ``--concurrency C``, C callers send their requests side by side (the micro-batcher batches them, as under load)
and it prints requests per second and the event loop's CPU time per request (its thread's, the torch thread's apart):
a single process is limited by that loop (docs/benchmarks.md).
Used to find the app's own costs (docs/benchmarks.md); the served figures come from ``python -m bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

import numpy as np
import uvloop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="gan-mnist")
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--format", default="json", choices=["json", "png", "npy"])
    parser.add_argument("--path", default="/generate")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=1, help="callers sending side by side")
    parser.add_argument("--no-forward", action="store_true",
                        help="black images instead of the forward pass: the app's own costs alone, steadier")
    args = parser.parse_args()
    os.environ |= {"GAN_LOG_LEVEL": "warning"}

    import app.responses as responses
    from app.protocol import DISCONNECT, Disconnects
    from bench.floor import create_app

    app = create_app()
    spent: dict[str, float] = {}

    def timed(name, fn):
        def run(*a, **k):
            start = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - start
        return run

    responses.encode = timed("encode", responses.encode)

    async def call(body: bytes) -> int:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
                 "path": args.path, "raw_path": args.path.encode(), "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                             (b"content-length", str(len(body)).encode())],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000), "state": {},
                 "extensions": {DISCONNECT: Disconnects(asyncio.get_running_loop())}}  # as the server's protocol
        sent, done, status = False, asyncio.Event(), 0

        async def receive():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            nonlocal status
            status = message.get("status", status)

        await app(scope, receive, send)
        done.set()
        return status

    async def run() -> None:
        async with app.router.lifespan_context(app):
            loaded = app.state.service.registry.models[args.model]
            loaded.batcher.forward = timed("forward", loaded.batcher.forward)
            if args.no_forward:
                shape = loaded.batcher.forward(loaded.G.latents_for_seeds([0])).shape[1:]
                loaded.batcher.forward = lambda latents: np.zeros((len(latents), *shape), np.uint8)
            bodies = [json.dumps({"model": args.model, "n": args.n, "format": args.format,
                                  "seed": i * args.n}).encode() for i in range(args.requests + 10)]
            for body in bodies[:10]:
                assert await call(body) == 200
            spent.clear()
            start, loop_cpu = time.perf_counter(), time.thread_time()
            queue = iter(bodies[10:])

            async def caller() -> None:
                for body in queue:
                    assert await call(body) == 200

            await asyncio.gather(*(caller() for _ in range(args.concurrency)))
            wall, loop_cpu = time.perf_counter() - start, time.thread_time() - loop_cpu
            per = lambda seconds: f"{seconds / args.requests * 1000:.3f} ms"  # noqa: E731
            if args.concurrency > 1:
                print(f"{args.path} {args.model} n={args.n} {args.format} c={args.concurrency}: "
                      f"{args.requests / wall:.0f} requests/s, event loop CPU {per(loop_cpu)} a request")
                return
            print(f"{args.path} {args.model} n={args.n} {args.format}: {per(time.perf_counter() - start)} a request; "
                  + ", ".join(f"{name} {per(seconds)}" for name, seconds in spent.items()))

    uvloop.run(run())


if __name__ == "__main__":
    main()
