"""Service settings, from the environment (prefix GAN_) or a .env file.

    GAN_CHECKPOINT_DIR=/models GAN_DEVICE=cuda GAN_MAX_IMAGES=512 gan-serve
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent  # not models.files': importing models imports torch, and the
# console script's master process, which only supervises workers, need not


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GAN_", env_file=".env", extra="ignore")

    checkpoint_dir: Path = Field(REPO_ROOT / "checkpoints", description="folder of NAME.safetensors + NAME.json")
    extra_checkpoint_dir: Path | None = Field(None, description="a second folder (e.g. a mounted volume)")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto takes CUDA when present")
    threads: int = Field(0, ge=0, description="torch threads (0: one for small batches, one per CPU this process "
                         "may run on from threads_from_rows images)")
    threads_from_rows: int = Field(0, ge=0, description="batches this large use every CPU (with threads 0); 0: "
                                   "measured for each model as it loads, 16 rows for a generator whose forward pass "
                                   "takes over 0.3 ms an image on one thread, 64 for a lighter one")
    gil_switch_ms: float = Field(5.0, gt=0, le=100, description="Python's switch interval: how long the event loop "
                                 "may keep the interpreter while the torch thread waits for it between two of its "
                                 "operations (5, Python's own; shorter helped some models and slowed others: "
                                 "docs/benchmarks.md, sixth round)")
    channels_last: bool = Field(True, description="run convolutional generators in channels-last memory format")
    keep_freed_memory: bool = Field(True, description="glibc keeps freed memory for the next batch instead of "
                                    "returning it to the kernel (no page faults on every large batch; the process "
                                    "keeps up to 1 GB of freed memory)")
    fold_batch_norm: bool = Field(True, description="fold each generator's batch norms into the layers before them "
                                  "(one layer instead of two; pixels within 1 grey level of the model as trained)")
    precision: Literal["float32", "float16", "bfloat16"] = Field(
        "float32", description="the generators' arithmetic: float16 keeps pixels within 2 grey levels, bfloat16 "
        "moves a few by up to 13. On a GPU both are faster; on a CPU float16 is emulated (tens of times slower) and "
        "bfloat16 is faster only where the CPU does it natively (AVX-512 BF16 or AMX: 1.5-3x a batched image, "
        "python -m bench.runtime_bench --precisions)")
    cuda_graphs: bool = Field(False, description="on a CUDA device, run each generator as CUDA graphs, one per batch "
                              "size bucket (powers of two up to max_batch); ignored on a CPU")
    backend: Literal["torch", "onnxruntime"] = Field(
        "torch", description="what runs the generators: torch, or onnxruntime (each generator exported to ONNX when "
        "it loads, batch norms folded, and run by ONNX Runtime with threads or one thread per CPU; on CUDA when the "
        "device is cuda and onnxruntime-gpu is installed; needs pip install 'gan-studio[onnx]'). precision and "
        "cuda_graphs are torch's: with onnxruntime the graphs run in float32 without CUDA graphs, and either one set "
        "is ignored with a warning at startup (channels_last does not apply either)")
    log_level: str = Field("info", description="debug, info, warning, error")
    log_format: Literal["text", "json"] = Field("text", description="json: one JSON object per log line")

    # What one request may cost.
    max_images: int = Field(256, ge=1, le=4096, description="most images one response may hold")
    max_output_pixels: int = Field(16_000_000, ge=784, description="most pixels one response may hold (all images)")
    max_body_bytes: int = Field(256 * 1024, ge=1024, description="largest request body accepted")

    # What one uploaded image may cost (POST /infogan/encode; decoded off the torch thread, app/decoding.py).
    encode_max_pixels: int = Field(4_194_304, ge=784, description="most pixels an uploaded image may declare")
    encode_max_side: int = Field(4096, ge=28, description="longest side an uploaded image may declare")
    encode_max_aspect: float = Field(16.0, ge=1, description="most an uploaded image's longer side may be of its "
                                     "shorter")
    encode_max_scans: int = Field(64, ge=1, description="most scans a (progressive) JPEG may have")
    encode_timeout_s: float = Field(2.0, gt=0, description="an upload still decoding after this gets a 422")
    encode_queue: int = Field(8, ge=1, description="uploads being decoded or waiting; past it a 503 with "
                              "Retry-After")

    # Micro-batching and overload.
    batching: bool = Field(True, description="micro-batch concurrent requests for the same model")
    max_batch: int = Field(256, ge=1, description="most images in one forward pass")
    max_wait_ms: float = Field(0.0, ge=0, description="extra wait for more requests (0: take what is queued)")
    inline_rows: int = Field(8, ge=0, le=64, description="a request of at most this many images that finds its "
                             "model idle runs at once on the event loop's thread, without the hand-off to the "
                             "batcher (0: never)")
    queue_size: int = Field(1024, ge=1, description="requests waiting per model before 503s")
    queue_timeout_ms: float = Field(10_000, gt=0, description="a request still queued after this gets a 503")
    retry_after_s: int = Field(1, ge=0, description="Retry-After on 503s for a full queue or a queue timeout")

    # Connections (nginx's client_header_timeout, client_body_timeout, keepalive_timeout, worker_connections).
    header_timeout_s: float = Field(10.0, gt=0, description="a request's headers must arrive within this")
    body_timeout_s: float = Field(15.0, gt=0, description="a request's body must arrive within this")
    keep_alive_s: float = Field(5.0, gt=0, description="an idle keep-alive connection is closed after this")
    max_connections: int = Field(1000, ge=8, description="open connections; capped below the file-descriptor limit")
    max_header_bytes: int = Field(65536, ge=1024, description="request line and headers together, at most (431)")
    max_headers: int = Field(100, ge=8, description="headers in one request, at most (431)")
    workers: int = Field(1, ge=1, le=64, description="server processes sharing the port, each with its own models")
    worker_boot_timeout_s: int = Field(60, ge=5, description="how long a starting worker may take to answer the "
                                       "master's health ping (it imports torch and loads the models first)")
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        [], description="comma-separated addresses (or networks) of the proxies whose X-Forwarded-For is believed; "
        "empty: none, the connection's own address is the client's")
    request_timeout_s: float = Field(30.0, gt=0, description="one deadline per request, from its body to its answer "
                                     "(queue, batch and encoding): past it a 503 with Retry-After, the work dropped")

    # Models that change while serving (app/watcher.py).
    watch: bool = Field(True, description="serve what is published into the checkpoint folders while running")
    watch_polling: bool = Field(False, description="look for changes by polling (file systems without change "
                                "events: some network and FUSE mounts) instead of the kernel's events")
    watch_poll_ms: int = Field(1000, ge=50, description="how often polling looks (with watch_polling)")
    admin_keys: Annotated[list[str], NoDecode] = Field(
        [], description="comma-separated keys for POST /admin/reload (separate from api_keys); empty: no admin routes")

    # Ray Serve (gan-serve --engine ray; its flags override these).
    ray_replicas: int = Field(1, ge=1, description="replicas (the lower bound when autoscaling)")
    ray_max_replicas: int = Field(0, ge=0, description="autoscale up to this many replicas (0: a fixed number)")
    ray_target_ongoing_requests: float = Field(32, gt=0, description="autoscaling: requests in flight per replica")
    ray_num_cpus: float = Field(1.0, gt=0, description="CPUs Ray reserves for each replica (its torch threads)")
    ray_num_gpus: float = Field(0.0, ge=0, description="GPUs per replica; a fraction shares one (0.25: four)")
    ray_high_throughput: bool = Field(
        True, description="Ray Serve's high-throughput mode for the cluster gan-serve --engine ray starts: HAProxy as "
        "the ingress, straight to the replicas' own HTTP ports, instead of Ray's Python proxy "
        "(RAY_SERVE_ENABLE_HA_PROXY=1, RAY_SERVE_THROUGHPUT_OPTIMIZED=1; set RAY_* yourself to override either); "
        "false: Ray's proxy. A cluster it joins (RAY_ADDRESS) keeps the mode it was started with")

    # Access.
    cors_origins: Annotated[list[str], NoDecode] = Field(
        [], description="comma-separated origins allowed by CORS, e.g. https://example.org (empty: none)")
    api_keys: Annotated[list[str], NoDecode] = Field(
        [], description="comma-separated keys; when set, every route but health, the page and the docs needs one")
    rate_limit: str | None = Field(None, description='per key or client address, e.g. "100/minute" ("limits")')
    fast_path: bool = Field(True, description="POST /generate with a JSON body skips FastAPI's routing layers "
                            "(same validation, answers and errors; app/fastpath.py)")

    @field_validator("cors_origins", "api_keys", "admin_keys", "forwarded_allow_ips", mode="before")
    @classmethod
    def comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value


def backend_unavailable(backend: str) -> str | None:
    """Why GAN_BACKEND=``backend`` cannot run here (one line, naming the install), or None when it can. Asks where the
    packages are without importing them (the console script's master process imports neither them nor torch)."""
    if backend != "onnxruntime":
        return None
    missing = [name for name in ("onnxruntime", "onnx") if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return f"GAN_BACKEND=onnxruntime needs {' and '.join(missing)}, not installed: pip install 'gan-studio[onnx]'"
