"""How fast HTTP itself goes in one Python process here, to place the project's floor: the same single-image
POST /generate body at c=64 (wrk), answered with a constant 100-byte body by

- ``raw``: a bare uvloop protocol that only splits requests at their ends (no HTTP parser, no ASGI);
- ``uvicorn``: uvicorn (httptools, uvloop, as gan-serve runs it) with a bare ASGI app;
- ``floor``: the project's own app with the benchmark's floor route (bench.floor, the same server as gan-serve);
- ``project``: that server's POST /generate itself.

    python -m bench.http_ceiling --rounds 2

The gap between ``uvicorn`` and ``floor`` is what the project's app costs a request (docs/benchmarks.md, ninth round).
The load is the benchmark's own (bench.load: wrk writes each request's seed from Lua), which caps wrk itself well
below what the two bare servers can take: their columns are lower bounds.
"""

from __future__ import annotations

import argparse
import asyncio

from bench.load import load
from bench.serving import machine
from tests.server import server_process

BODY = b"x" * 100
HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: 100\r\n\r\n"


class RawProtocol(asyncio.Protocol):
    """Answers every request with the constant body: finds each request's end (its headers' blank line, then
    Content-Length bytes) and writes, nothing else."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport, self.buffer = transport, b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            length = 0
            for line in self.buffer[:end].split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length:]
            self.transport.write(HEAD + BODY)


async def bare_app(scope: dict, receive, send) -> None:
    """The least an ASGI app can do: read the body, answer the constant."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":  # the startup message
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"image/png"), (b"content-length", b"100")]})
    await send({"type": "http.response.body", "body": BODY})


def serve(kind: str, port: int) -> None:
    import uvicorn
    import uvloop

    if kind == "raw":
        async def main() -> None:
            server = await asyncio.get_running_loop().create_server(RawProtocol, "127.0.0.1", port)
            await server.serve_forever()
        uvloop.run(main())
    else:
        uvicorn.run(bare_app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", log_level="warning",
                    access_log=False)


SERVERS = {
    "raw": ["-m", "bench.http_ceiling", "--serve", "raw", "--port", "{port}"],
    "uvicorn": ["-m", "bench.http_ceiling", "--serve", "uvicorn", "--port", "{port}"],
    "floor": ["-m", "bench.floor", "--port", "{port}"],
}
PATHS = {"raw": "/generate", "uvicorn": "/generate", "floor": "/bench/constant.png", "project": "/generate"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", choices=["raw", "uvicorn"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=8000, help=argparse.SUPPRESS)
    parser.add_argument("--model", default="gan-mnist")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port)
        return
    body = {"model": args.model, "n": 1, "format": "png"}
    print(f"`python -m bench.http_ceiling` on {machine('cpu')}: POST with a /generate body at c=64, {args.seconds:g} s "
          f"a point; req/s")
    print("| round | raw uvloop | uvicorn, bare ASGI app | the project's floor | the project's /generate |")
    print("|---:|---:|---:|---:|---:|")
    for k in range(1, args.rounds + 1):
        rps = {}
        for kind in ("raw", "uvicorn", "floor"):
            with server_process(argv=SERVERS[kind]) as (url, _):
                load(url, PATHS[kind], body, 64, 1)  # warm
                rps[kind] = load(url, PATHS[kind], body, 64, args.seconds)["rps"]
                if kind == "floor":
                    load(url, PATHS["project"], body, 64, 1)
                    rps["project"] = load(url, PATHS["project"], body, 64, args.seconds)["rps"]
        print(f"| {k} | " + " | ".join(f"{rps[kind]:.0f}" for kind in PATHS) + " |", flush=True)


if __name__ == "__main__":
    main()
