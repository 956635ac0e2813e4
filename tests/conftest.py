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
