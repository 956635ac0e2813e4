"""POST /generate's fast path answers exactly as FastAPI's route does, success and error alike, behind every
middleware; and it is the path taken."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

import app.fastpath
from app.config import Settings
from app.fastpath import GENERATE_ROUTE, SHAPE, GenerateFastPath, route_shape
from app.main import create_app
from tests.helpers import CHECKPOINTS

pytestmark = pytest.mark.unit
MODELS = ["dcgan-mnist", "cgan-mnist", "cgan-fashion", "infogan-mnist", "gan-mnist"]

JSON = {"Content-Type": "application/json"}
BODIES = [  # (content, headers): valid requests of every format, then what each kind of error looks like
    (json.dumps({"model": "dcgan-mnist", "seed": 5}), JSON),
    (json.dumps({"model": "cgan-mnist", "n": 3, "seed": 2, "label": 7, "format": "json", "return_latents": True}),
     JSON),
    (json.dumps({"model": "cgan-fashion", "n": 2, "seed": 9, "label": "sneaker", "format": "json"}), JSON),
    (json.dumps({"model": "infogan-mnist", "n": 4, "seed": 1, "category": 3, "format": "npy"}), JSON),
    (json.dumps({"model": "gan-mnist", "n": 5, "seed": 8, "columns": 2, "scale": 3}), JSON),
    (json.dumps({"model": "nope", "seed": 1}), JSON),  # 404 from the service
    (json.dumps({"model": "dcgan-mnist", "label": 3}), JSON),  # 422 from the service: no labels here
    (json.dumps({"model": "cgan-mnist", "label": "sneaker"}), JSON),  # 422: a name from another model
    (json.dumps({"model": "dcgan-mnist", "n": 100000}), JSON),  # 422 from validation
    (json.dumps({"model": "dcgan-mnist", "seed": "x"}), JSON),
    (json.dumps({"model": "dcgan-mnist", "surprise": 1}), JSON),
    ('{"model": "dcgan-mnist", "n": ', JSON),  # not JSON
    ("[1, 2]", JSON),
    ("", JSON),
    (json.dumps({"model": "dcgan-mnist", "seed": 5}), {"Content-Type": "text/plain"}),  # left to FastAPI
    (json.dumps({"model": "dcgan-mnist", "seed": 5}), {"Content-Type": "application/json; charset=utf-8"}),
]


def answer(client: TestClient, content: str, headers: dict) -> tuple:
    r = client.post("/generate", content=content, headers=headers | {"X-Request-ID": "fixed-id-0001"})
    body = r.content
    if r.headers.get("content-type") == "application/json":
        parsed = r.json()
        parsed.pop("elapsed_ms", None)  # a timing
        body = json.dumps(parsed, sort_keys=True).encode()
    kept = {k: v for k, v in r.headers.items() if k not in ("x-generation-ms", "content-length", "date")}
    return r.status_code, kept, body


@pytest.fixture(scope="module")
def clients():
    made = [TestClient(create_app(Settings(checkpoint_dir=CHECKPOINTS, log_level="warning", fast_path=on)))
            for on in (True, False)]
    with made[0] as fast, made[1] as routed:
        yield fast, routed


def test_the_fast_path_answers_as_the_route_does(clients):
    fast, routed = clients
    for content, headers in BODIES:
        assert answer(fast, content, headers) == answer(routed, content, headers), (content, headers)


def seeded(body: object, seed: int) -> object:
    """The body with a seed when it names none (an unseeded answer is random, so two answers would differ)."""
    if isinstance(body, dict) and body.get("seed") is None and body.get("seeds") is None:
        return body | {"seed": seed}
    return body


def generated_bodies(app, count: int) -> list[bytes]:
    """Bodies for POST /generate drawn by schemathesis from the app's own OpenAPI, valid and invalid, fixed seeds;
    each also sent with a shipped model's name (most drawn names are unknown), so the success paths are compared
    too."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.generation import GenerationMode

    operation = schemathesis.openapi.from_dict(app.openapi())["/generate"]["POST"]
    bodies: list[bytes] = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        @settings(max_examples=count // 2, suppress_health_check=list(HealthCheck), database=None, derandomize=True,
                  deadline=None)
        @given(operation.as_strategy(generation_mode=mode))
        def draw(case) -> None:
            body = seeded(case.body, len(bodies))
            try:
                bodies.append(body if isinstance(body, bytes) else json.dumps(body).encode())
            except (TypeError, ValueError):  # a negative case's body that is not even JSON-like
                return
            if isinstance(body, dict):
                bodies.append(json.dumps(body | {"model": MODELS[len(bodies) % len(MODELS)]}).encode())

        draw()
    return bodies


def test_every_example_and_hundreds_of_generated_bodies_answer_alike(clients):
    fast, routed = clients
    spec = fast.app.openapi()
    examples = spec["paths"]["/generate"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    bodies = [json.dumps(seeded(e["value"], 1)).encode() for e in examples.values()] + generated_bodies(fast.app, 300)
    assert len(bodies) > 400
    statuses = set()
    for body in bodies:
        got = answer(fast, body, JSON)
        assert got == answer(routed, body, JSON), body[:300]
        statuses.add(got[0])
    assert {200, 404, 422} <= statuses  # successes and both kinds of error were compared


def test_the_route_has_the_shape_the_fast_path_reproduces():
    """Fails when POST /generate gains a parameter, a dependency or another body: bring app/fastpath.py along
    (then update its SHAPE)."""
    assert route_shape(GENERATE_ROUTE) == SHAPE


def test_a_route_of_another_shape_turns_the_fast_path_off(monkeypatch):
    import app.main

    warned: list[str] = []
    monkeypatch.setattr(app.main.log, "warning", lambda msg, *args: warned.append(msg))
    monkeypatch.setattr(app.fastpath, "SHAPE", SHAPE | {"dependencies": ["get_service", "added_later"]})
    made = create_app(Settings(checkpoint_dir=CHECKPOINTS, log_level="warning"))
    assert GenerateFastPath not in [m.cls for m in made.user_middleware] and "fast path is off" in warned[0]
    monkeypatch.setattr(app.fastpath, "SHAPE", SHAPE)
    assert GenerateFastPath in [m.cls for m in create_app(Settings(checkpoint_dir=CHECKPOINTS)).user_middleware]


def test_the_fast_path_is_taken_for_json_bodies_and_counted_under_its_route(clients, monkeypatch):
    fast, routed = clients
    taken = []
    real = app.fastpath.respond
    monkeypatch.setattr(app.fastpath, "respond", lambda *a: taken.append(1) or real(*a))
    for client in (fast, routed):
        assert client.post("/generate", json={"model": "dcgan-mnist", "seed": 1}).status_code == 200
        assert client.post("/generate", content="{}", headers={"Content-Type": "text/plain"}).status_code == 422
    assert len(taken) == 1  # the fast client's JSON request; never the routed client's, never text/plain
    metrics = fast.get("/metrics").text
    assert 'route="/generate"' in metrics and 'route="unmatched"' not in metrics


def test_the_body_guard_and_access_control_still_apply():
    settings = Settings(checkpoint_dir=CHECKPOINTS, log_level="warning", max_body_bytes=1024, api_keys=["k1"])
    with TestClient(create_app(settings)) as client:
        body = {"model": "dcgan-mnist", "seed": 1}
        assert client.post("/generate", json=body).status_code == 401
        ok = client.post("/generate", json=body, headers={"Authorization": "Bearer k1"})
        assert ok.status_code == 200 and ok.headers["content-type"] == "image/png"
        big = client.post("/generate", json=body | {"pad": "x" * 2000}, headers={"Authorization": "Bearer k1"})
        assert big.status_code == 413 and big.json()["detail"][0]["loc"] == ["body"]


def test_a_client_leaving_mid_body_is_answered_and_counted_as_the_route_does(clients):
    """Found while building it: the fast path first dropped such a request unanswered, counted as a 500."""
    import asyncio

    def leave_mid_body(client: TestClient) -> list[int]:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/generate", "raw_path": b"/generate", "query_string": b"",
                 "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
                 "headers": [(b"host", b"t"), (b"content-type", b"application/json"), (b"content-length", b"99")]}
        messages = [{"type": "http.request", "body": b'{"model": "dcg', "more_body": True},
                    {"type": "http.disconnect"}]
        statuses = []

        async def receive():
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        asyncio.run(client.app(scope, receive, send))
        return statuses

    fast, routed = clients
    assert leave_mid_body(fast) == leave_mid_body(routed) == [400]
    counted = fast.get("/metrics").text
    assert 'route="/generate",status="400"' in counted and 'route="unmatched"' not in counted


def test_no_request_asks_opentelemetry_for_its_providers(clients, monkeypatch):
    """FastAPI's native OpenTelemetry hooks are off: left on, every request looked the three providers up (and read
    the environment doing it) before any route ran."""
    from opentelemetry import _logs, metrics, trace

    asked = []
    for module, name in ((trace, "get_tracer_provider"), (metrics, "get_meter_provider"),
                         (_logs, "get_logger_provider")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda real=real, name=name: asked.append(name) or real())
    fast, _ = clients
    for _ in range(3):
        assert fast.post("/generate", json={"model": "gan-mnist", "seed": 1}).status_code == 200
        assert fast.get("/models").status_code == 200
    assert asked == []
