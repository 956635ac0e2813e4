"""Fixtures the tests share; plain helpers are in tests/helpers.py. Tiers by marker (pyproject.toml):
``unit`` in process with tiny or shipped models, ``integration`` a real server, ``e2e`` browser, Ray, nginx,
container and fuzzing. ``pytest -m unit`` is the fast tier."""

import os
from pathlib import Path

import pytest
import torch

from tests.helpers import REPO_ROOT, shipped_settings

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="module")
def shipped_client():
    """The app in-process (no HTTP server) on the shipped checkpoints, one per test module."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(shipped_settings())) as client:
        yield client


TIERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config, items):
    """Every test belongs to exactly one tier: a test without one (or with two) fails collection, so that
    ``pytest -m unit`` really is the whole fast tier."""
    wrong = [f"{item.nodeid}: {tiers or 'no tier'}" for item in items
             if len(tiers := [m.name for m in item.iter_markers() if m.name in TIERS]) != 1]
    if wrong:
        raise pytest.UsageError("tests need one tier mark (unit, integration or e2e):\n" + "\n".join(wrong[:20]))
