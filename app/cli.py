"""The ``gan-serve`` console script (also ``python -m app``): the app on uvicorn with the limits of app/server.py,
or on Ray Serve.

    gan-serve --host 0.0.0.0 --port 8000
    gan-serve --engine ray --replicas 2          # its options: gan-serve --engine ray --help
"""

from __future__ import annotations

import argparse
import os

from app.config import Settings, backend_unavailable

# Ray Serve's high-throughput mode: HAProxy (C) as each node's ingress, sending requests straight to the replicas'
# own HTTP servers (Ray's "direct ingress"), and gRPC between Ray's processes; Ray's Python proxy hop was the limit
# (docs/scaling.md). HAProxy replays a request whose replica died before answering (every route is a function of
# its request: a replay gives the same answer); never a 503, the app's deliberate "busy, retry later".
RAY_HIGH_THROUGHPUT = {"RAY_SERVE_ENABLE_HA_PROXY": "1", "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
                       "RAY_SERVE_HAPROXY_RETRY_ON": "conn-failure empty-response junk-response"}


def serve(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the GAN Studio API and demo page.")
    parser.add_argument("--engine", choices=["uvicorn", "ray"], default="uvicorn",
                        help="uvicorn (GAN_WORKERS processes on this machine) or ray (replicas on a Ray cluster)")
    engine, rest = parser.parse_known_args(argv)
    if why := backend_unavailable(Settings().backend):  # one line now, not a traceback from every worker
        raise SystemExit(f"gan-serve: {why}")
    if engine.engine == "ray":
        if Settings().ray_high_throughput:  # read when Ray Serve is imported, by this process and the cluster it starts
            for name, value in RAY_HIGH_THROUGHPUT.items():
                os.environ.setdefault(name, value)
        try:
            from app.ray_serve import run as run_on_ray
        except ImportError as e:
            parser.error(f"--engine ray needs Ray Serve: pip install -e '.[ray]' ({e})")
        return run_on_ray(rest)
    from app.server import run

    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    run(args.host, args.port, Settings())
