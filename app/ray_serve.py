"""The same FastAPI app on Ray Serve: N replicas, each with its own models and micro-batcher, behind Ray's HTTP
proxy (needs the ``ray`` extra: ``pip install -e '.[ray]'``).

    gan-serve --engine ray --replicas 2 --port 8000           # a local Ray cluster, or RAY_ADDRESS's
    serve run deploy/ray-serve.yaml                           # the same from a Serve config file
    serve deploy deploy/ray-serve.yaml                        # onto a running cluster (multi-node: docs/scaling.md)

Every replica reads the GAN_* settings of its own environment (the CLI passes this process's GAN_* variables
to the replicas through Ray's runtime_env; a config file names them under ``runtime_env.env_vars``). Each
answer carries ``X-Replica``: the id of the replica that made it. In front, by default (GAN_RAY_HIGH_THROUGHPUT),
HAProxy sends each request straight to a replica's own HTTP server (Ray's direct ingress); otherwise Ray's Python
proxy. Either way the connection limits of app/server.py (header and body timeouts, the connection cap) are the
plain server's; put nginx or a cloud load balancer in front for those.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import threading
from typing import Any

from ray import serve

from app.config import Settings
from app.main import create_app

log = logging.getLogger("gan_studio")


class ReplicaHeader:
    """ASGI middleware: ``X-Replica`` on every answer, so a client (or a test) sees which replica served it.

    It also leaves out the app's own ``X-Request-ID``: Ray's request-id middleware (in its proxy, or with direct
    ingress in the replica) sets the request's id before the app reads it and adds the same header to the answer,
    so the app's copy would send it twice."""

    def __init__(self, app: Any, replica: str) -> None:
        self.app, self.replica = app, replica.encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_replica(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message["headers"] = [*headers, (b"x-replica", self.replica)]
            await send(message)

        await self.app(scope, receive, send_with_replica)


@serve.deployment(name="GanStudio", max_ongoing_requests=256, health_check_period_s=5, health_check_timeout_s=20)
@serve.ingress()
class GanStudio:
    """One replica: the app built in the replica's own process, after its environment is set."""

    async def __init__(self, environment: dict[str, str] | None = None) -> None:
        os.environ.update(environment or {})

    def __serve_build_asgi_app__(self) -> Any:
        self.gan_app = create_app(Settings())
        self.gan_app.add_middleware(ReplicaHeader, replica=serve.get_replica_context().replica_id.unique_id)
        return self.gan_app

    async def reconfigure(self, config: dict[str, Any]) -> None:
        """Ray Serve calls this in place, without restarting the replica, when the Serve config's ``user_config``
        changes (``serve deploy`` of a config whose ``user_config: {reload: ...}`` is new): the replica rereads its
        checkpoint folders, as its watcher does on its own. Run on the app's own event loop."""
        app = getattr(self, "gan_app", None)
        loop = getattr(getattr(app, "state", None), "loop", None)
        if loop is None:  # called before the app started: it reads the folders when it starts
            return
        service = app.state.service
        report = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(service.registry.reload(), loop))
        log.warning("reconfigured (user_config %s): loaded %s, refused %s, removed %s", config, report.loaded,
                    sorted(report.refused), report.removed)


def gan_environment() -> dict[str, str]:
    """This process's GAN_* settings, handed to every replica."""
    return {k: v for k, v in os.environ.items() if k.startswith("GAN_")}


def application(replicas: int | None = None, num_cpus: float = 1.0, num_gpus: float = 0.0,
                autoscaling: dict[str, Any] | None = None, environment: dict[str, str] | None = None) -> Any:
    """The bound Serve application: a fixed number of replicas, or an autoscaling range.

    >>> serve.run(application(replicas=2), route_prefix="/")
    """
    env = dict(environment if environment is not None else gan_environment())
    # one torch thread per CPU Ray gives the replica (Ray sets OMP_NUM_THREADS the same way)
    env.setdefault("GAN_THREADS", str(max(1, int(num_cpus))))
    options: dict[str, Any] = {"ray_actor_options": {"num_cpus": num_cpus, "num_gpus": num_gpus}}
    if autoscaling:
        options["autoscaling_config"] = autoscaling
    else:
        options["num_replicas"] = replicas or 1
    return GanStudio.options(**options).bind(env)


# ``serve run app.ray_serve:deployment`` and the config file's import_path: settings from the environment.
deployment = GanStudio.bind()


def cluster_address() -> str | None:
    """RAY_ADDRESS, the cluster to join; unset or empty (as shells and compose files often leave it) means a local
    cluster started here. An empty one is removed from the environment: Ray itself would read it and fail."""
    address = os.environ.get("RAY_ADDRESS", "").strip()
    if not address:
        os.environ.pop("RAY_ADDRESS", None)
        return None
    return address


def run(argv: list[str] | None = None) -> None:
    """``gan-serve --engine ray``: starts (or joins, with RAY_ADDRESS) a Ray cluster, deploys, serves until
    SIGINT or SIGTERM, then takes the application down."""
    import ray

    settings = Settings()
    parser = argparse.ArgumentParser(description="Serve GAN Studio on Ray Serve (defaults: the GAN_RAY_* settings).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--replicas", type=int, default=settings.ray_replicas,
                        help="replicas (fixed); see --max-replicas")
    parser.add_argument("--max-replicas", type=int, default=settings.ray_max_replicas,
                        help="autoscale from --replicas up to this many replicas (0: no autoscaling)")
    parser.add_argument("--target-ongoing-requests", type=float, default=settings.ray_target_ongoing_requests,
                        help="autoscaling: requests in flight per replica to aim for")
    parser.add_argument("--num-cpus", type=float, default=settings.ray_num_cpus,
                        help="CPUs Ray reserves for each replica")
    parser.add_argument("--num-gpus", type=float, default=settings.ray_num_gpus,
                        help="GPUs per replica (a fraction shares one)")
    args = parser.parse_args(argv)
    autoscaling = None
    if args.max_replicas > args.replicas:
        autoscaling = {"min_replicas": args.replicas, "max_replicas": args.max_replicas,
                       "target_ongoing_requests": args.target_ongoing_requests}

    # Ray Serve gives its proxy 5 s to report ready, three times, then kills it: a busy machine (a model loading
    # beside it on two cores) missed that here. A cluster this command starts inherits these (RAY_* wins).
    for name, seconds in (("RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S", "30"),
                          ("RAY_SERVE_PROXY_HEALTH_CHECK_TIMEOUT_S", "30")):
        os.environ.setdefault(name, seconds)
    address = cluster_address()
    joined = address is not None
    ray.init(address=address, include_dashboard=False if not joined else None, logging_level=logging.WARNING)
    serve.start(http_options={"host": args.host, "port": args.port})
    app = application(args.replicas, args.num_cpus, args.num_gpus, autoscaling)
    serve.run(app, name="gan-studio", route_prefix="/")
    log.warning("serving on Ray Serve at http://%s:%d (%s)", args.host, args.port,
                f"{args.replicas}-{args.max_replicas} replicas" if autoscaling else f"{args.replicas} replicas")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    serve.delete("gan-studio")
    if not joined:  # a cluster this command started; one it joined keeps Serve for its other applications
        serve.shutdown()
    ray.shutdown()
