"""Ray Serve with one replica against the plain server, with HAProxy's metrics and thread count varied, in one run.

    python -m bench.haproxy_threads

Single-image ``POST /generate`` of ``dcgan-mnist`` at c=64 (wrk, two 4 s points a server), one server after
another: gan-serve in one process, Ray Serve (1 replica) with HAProxy's four threads (Ray's default), with its
metrics off too, with metrics off and one thread, and the plain server again (the machine's drift shows in its
two rows).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import load  # noqa: E402
from bench.scaling_bench import RAY as RAY_REPLICAS  # noqa: E402
from tests.server import SERVE, server_process, wait_for_replicas  # noqa: E402

RAY = [*RAY_REPLICAS, "1"]
FOUR = {"RAY_SERVE_HAPROXY_NBTHREAD": "4"}  # Ray's own default
VARIANTS = {
    "plain": (SERVE, {}),
    "ray, HAProxy 4 threads": (RAY, FOUR),
    "ray, 4 threads, metrics off": (RAY, FOUR | {"RAY_SERVE_HAPROXY_METRICS_ENABLED": "0"}),
    "ray, 1 thread, metrics off": (RAY, {"RAY_SERVE_HAPROXY_METRICS_ENABLED": "0", "RAY_SERVE_HAPROXY_NBTHREAD": "1"}),
    "plain again": (SERVE, {}),
}


def main() -> None:
    body = {"model": "dcgan-mnist", "n": 1}
    for name, (argv, env) in VARIANTS.items():
        with server_process(env, timeout=240, argv=argv, stop_timeout=60) as (url, _):
            if argv is RAY:
                wait_for_replicas(url, 1, timeout=240)
            load(url, "/generate", body, 16, 2)  # warm-up
            print(name, [round(load(url, "/generate", body, 64, 4)["rps"]) for _ in range(2)], flush=True)


if __name__ == "__main__":
    main()
