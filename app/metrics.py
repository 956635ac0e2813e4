"""Prometheus metrics: requests and latency per route, images per model, batch sizes.

Requests are counted by app.middleware.RequestContextMiddleware, which times each request anyway for the access log.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("gan_http_requests", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("gan_http_request_duration_seconds", "Request latency", ["method", "route"],
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                                 registry=self.registry)
        self.images = Counter("gan_images_generated", "Images generated", ["model"], registry=self.registry)
        self.in_flight = 0  # HTTP requests being handled now (read by the batchers: alone, a request runs inline)
        self.in_flight_gauge = Gauge("gan_http_requests_in_flight", "HTTP requests being handled",
                                     registry=self.registry)
        self.in_flight_gauge.set_function(lambda: self.in_flight)
        self.batch_size = Histogram("gan_batch_size", "Images per forward pass", ["model"],
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), registry=self.registry)
        self.reloads = Counter("gan_model_reloads", "Checkpoint changes taken or refused", ["outcome"],
                               registry=self.registry)
        for outcome in ("loaded", "refused", "removed"):
            self.reloads.labels(outcome)
        self.model_info = Gauge("gan_model_info", "The version each model serves (1)", ["model", "version"],
                                registry=self.registry)
        self.serving: dict[str, str] = {}
        # Each request's counter and histogram by its labels, looked up once: prometheus_client's labels() checks
        # and joins them under a lock on every call. The labels are a fixed set (route templates, known methods).
        self.children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self.children.get(key)
        if children is None:
            children = self.children[key] = (self.requests.labels(method, route, str(status)),
                                             self.latency.labels(method, route))
        children[0].inc()
        children[1].observe(seconds)

    def observe_batch(self, model: str, size: int) -> None:
        self.images.labels(model).inc(size)
        self.batch_size.labels(model).observe(size)

    def observe_reload(self, model: str, outcome: str, version: str | None) -> None:
        self.reloads.labels(outcome).inc()
        if outcome == "refused":
            return
        old = self.serving.pop(model, None)
        if old is not None:
            self.model_info.remove(model, old)
        if outcome == "loaded" and version is not None:
            self.serving[model] = version
            self.model_info.labels(model, version).set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)
