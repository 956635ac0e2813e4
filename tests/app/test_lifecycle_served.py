"""Models that change under load, on a real server: a checkpoint replaced five times and then removed while 16
clients send seeded requests; every answer's bytes are what the version it names gives for its seed. And with
GAN_WORKERS=2, every worker takes the new version on its own."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.test_lifecycle import publish
from tests.helpers import shipped_settings
from tests.server import running_server

pytestmark = pytest.mark.integration
VERSIONS = ["dcgan-mnist", "dcgan-fashion"]  # two versions of one model "m"
SEEDS = range(120)


def expected_bytes(tmp_path: Path) -> dict[tuple[str, int], bytes]:
    """What each version gives for each seed, asked of the app in process."""
    table = {}
    for source in VERSIONS:
        folder = tmp_path / f"expected-{source}"
        folder.mkdir()
        version = publish(source, folder, "m")
        with TestClient(create_app(shipped_settings(checkpoint_dir=folder, watch=False))) as c:
            for seed in SEEDS:
                table[version, seed] = c.post("/generate", json={"model": "m", "seed": seed}).content
    return table


def test_replacing_a_model_five_times_under_load_drops_nothing(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    publish(VERSIONS[0], served, "m")
    answers: list[tuple[float, int, str | None, int, bytes]] = []
    removed_at = float("inf")

    async def client(url: str, stop_at: float, rng: random.Random) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as c:
            while time.monotonic() < stop_at:
                seed = rng.choice(SEEDS)
                r = await c.post("/generate", json={"model": "m", "seed": seed})
                answers.append((time.monotonic(), r.status_code, r.headers.get("x-model-version"), seed, r.content))

    async def publisher() -> None:
        nonlocal removed_at
        for i in range(1, 6):
            await asyncio.sleep(1.5)
            await asyncio.to_thread(publish, VERSIONS[i % 2], served, "m")
        await asyncio.sleep(1.5)
        removed_at = time.monotonic()
        for suffix in ("json", "safetensors"):
            (served / f"m.{suffix}").unlink()

    async def run(url: str) -> None:
        stop_at = time.monotonic() + 15
        await asyncio.gather(publisher(), *(client(url, stop_at, random.Random(k)) for k in range(16)))

    with running_server({"GAN_CHECKPOINT_DIR": served}) as url:
        asyncio.run(run(url))
    table = expected_bytes(tmp_path)
    statuses = Counter(status for _, status, *_ in answers)
    assert not [s for s in statuses if s >= 500], statuses
    before = [a for a in answers if a[0] < removed_at]
    assert before and all(status == 200 for _, status, *_ in before), statuses
    versions = Counter(version for _, status, version, *_ in answers if status == 200)
    assert len(versions) == 2 and min(versions.values()) > 20, versions  # both versions really served
    for _, status, version, seed, content in answers:
        if status == 200:
            assert content == table[version, seed], (version, seed)
    late = [status for t, status, *_ in answers if t > removed_at + 3.5]
    assert late and set(late) == {404}  # removed: unknown once the watcher has seen it


def test_each_worker_takes_the_new_version(tmp_path):
    publish(VERSIONS[0], tmp_path, "m")
    with running_server({"GAN_CHECKPOINT_DIR": tmp_path, "GAN_WORKERS": "2"}) as url:
        with httpx.Client(base_url=url, timeout=30) as c:
            first = {c.post("/generate", json={"model": "m", "seed": 1}).headers["x-model-version"]
                     for _ in range(10)}
            second = publish(VERSIONS[1], tmp_path, "m")
            deadline, seen = time.monotonic() + 20, set()
            while time.monotonic() < deadline:
                seen = {c.post("/generate", json={"model": "m", "seed": i}).headers["x-model-version"]
                        for i in range(40)}
                if seen == {second}:
                    break
                time.sleep(0.5)
            (tmp_path / "m.safetensors").write_bytes(b"garbage" * 100)  # refused by each worker on its own
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                refused = [c.get("/readyz").json() for _ in range(20)]
                if all("m" in r["refused"] for r in refused):
                    break
                time.sleep(0.5)
            assert all("m" in r["refused"] and r["versions"]["m"] == second for r in refused)
            after = {c.post("/generate", json={"model": "m", "seed": i}).headers["x-model-version"] for i in range(40)}
    assert first != {second} and seen == {second} and after == {second}
    assert json.loads((tmp_path / "m.json").read_text())["sha256"].startswith(second)
