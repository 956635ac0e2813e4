"""Service settings, from the environment (prefix GAN_) or a .env file.

    GAN_CHECKPOINT_DIR=/models GAN_DEVICE=cuda GAN_MAX_IMAGES=512 uvicorn app.main:app
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GAN_", env_file=".env", extra="ignore")

    checkpoint_dir: Path = Field(REPO_ROOT / "checkpoints", description="folder of NAME.safetensors + NAME.json")
    extra_checkpoint_dir: Path | None = Field(None, description="a second folder (e.g. a mounted volume)")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto takes CUDA when present")
    max_images: int = Field(256, ge=1, le=4096, description="most images one request may ask for")
    batching: bool = Field(True, description="micro-batch concurrent requests for the same model")
    max_batch: int = Field(256, ge=1, description="most images in one forward pass")
    max_wait_ms: float = Field(0.0, ge=0, description="extra wait for more requests (0: take what is queued)")
    queue_size: int = Field(1024, ge=1, description="requests waiting per model before 503s")
    max_body_bytes: int = Field(256 * 1024, ge=1024, description="largest request body accepted")
    threads: int = Field(0, ge=0, description="torch threads (0: one per core)")
    log_level: str = Field("info", description="debug, info, warning, error")
