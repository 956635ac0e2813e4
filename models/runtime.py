"""Where torch runs: the device, and how many CPU threads this process may really use.

    device = pick_device("auto")         # CUDA when present
    torch.set_num_threads(available_cpus())
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch


def pick_device(name: str) -> torch.device:
    """``auto`` takes CUDA when present; ``cuda`` without a CUDA device is an error, not a silent CPU run."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} asked for, but no CUDA device is available")
    return torch.device(name)


def cgroup_cpu_limit(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The CPU quota of this process's cgroup (``docker run --cpus 2`` gives 2.0), or None when unlimited."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]  # cgroup v2: "200000 100000" or "max 100000"
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:  # cgroup v1
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None


def available_cpus() -> int:
    """CPUs this process may run on: its affinity mask (``taskset``, ``--cpuset-cpus``), lowered to the
    cgroup's CPU quota (``--cpus``), never ``os.cpu_count()`` of the whole host."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = cgroup_cpu_limit()
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)
