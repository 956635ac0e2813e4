import os
import sys
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


CHECKPOINTS = Path(os.environ.get("TEST_CHECKPOINT_DIR", str(REPO_ROOT / "checkpoints")))


@pytest.fixture(scope="module")
def shipped_client():
    """The app in-process (no HTTP server) on the shipped checkpoints, one per test module."""
    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.main import create_app

    with TestClient(create_app(Settings(checkpoint_dir=CHECKPOINTS, log_level="warning"))) as client:
        yield client
