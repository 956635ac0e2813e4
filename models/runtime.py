"""Where torch runs: the device, and how many CPU threads this process may really use.

    device = pick_device("auto")         # CUDA when present
    torch.set_num_threads(available_cpus())
"""

from __future__ import annotations

import copy
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


# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory(mmap_threshold: int = 256 << 20, trim_threshold: int = 1 << 30) -> bool:
    """Lets glibc keep freed memory for the next allocation instead of handing it back to the kernel: blocks up to
    ``mmap_threshold`` come from the heap rather than a fresh mmap, and the heap keeps up to ``trim_threshold`` of
    free memory. A 256-image batch allocates tens of MB of activations; by default glibc unmaps them when freed, so
    every batch pays for page faults on fresh memory (InfoGAN, 256 images: ~9,000 minor faults and 30-35 ms a forward
    pass; with this, a few hundred and 23 ms: ``python -m bench.runtime_bench``; in some processes a 40 MB block
    still faults a tenth to 60% of its pages in again, tests/models/test_runtime.py). The same as
    ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_``, set from inside the process. Returns False where the
    C library is not glibc."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(M_TRIM_THRESHOLD, trim_threshold))


# GAN_PRECISION / --precision: the generator's weights and latents in this type (images come back as float32).
# float16 keeps the shipped generators' pixels within 2 grey levels, bfloat16 moves some by up to 13
# (tests/app/test_precision.py; docs/benchmarks.md has the evaluator's figures). On a CPU float16 is emulated and
# bfloat16 is native only with AVX-512 BF16 or AMX (python -m bench.runtime_bench --precisions).
PRECISIONS = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
NATIVE_BFLOAT16 = ("avx512_bf16", "amx_bf16")  # x86 flags (/proc/cpuinfo) of CPUs that do bfloat16 in hardware


def native_bfloat16(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """The flags by which this CPU does bfloat16 natively (empty where it has none, or off Linux). torch's own
    check (``torch.ops.mkldnn._is_mkldnn_bf16_supported``) says yes for any AVX-512 CPU, where oneDNN emulates it."""
    try:
        flags = set(cpuinfo.read_text(errors="replace").split())
    except OSError:
        return []
    return [flag for flag in NATIVE_BFLOAT16 if flag in flags]


FOLDABLE = (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d)


def fold_batch_norm(model: torch.nn.Module, into: tuple[type[torch.nn.Module], ...] = FOLDABLE) -> torch.nn.Module:
    """A copy of ``model`` for inference with every batch norm that directly follows a linear layer or a
    convolution (in a Sequential) folded into that layer's weights and bias: in eval mode batch norm is an
    affine map per channel, so the pair is one layer. The same function up to float rounding, one module call
    and one pass over the activations fewer per pair.

    >>> fast = fold_batch_norm(G)   # G itself is left as it is
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

    model = copy.deepcopy(model).eval()

    def fold(seq: torch.nn.Sequential) -> torch.nn.Sequential:
        layers: list[torch.nn.Module] = []
        for layer in seq:
            previous = layers[-1] if layers else None
            if (isinstance(layer, torch.nn.modules.batchnorm._BatchNorm) and layer.track_running_stats
                    and isinstance(previous, into)):
                if isinstance(previous, torch.nn.Linear):
                    layers[-1] = fuse_linear_bn_eval(previous, layer)
                else:
                    layers[-1] = fuse_conv_bn_eval(previous, layer,
                                                   transpose=isinstance(previous, torch.nn.ConvTranspose2d))
                continue
            layers.append(fold(layer) if isinstance(layer, torch.nn.Sequential) else layer)
        return torch.nn.Sequential(*layers)

    for child in list(model.modules()):
        for child_name, grandchild in list(child.named_children()):
            if isinstance(grandchild, torch.nn.Sequential) and not isinstance(child, torch.nn.Sequential):
                setattr(child, child_name, fold(grandchild))
    return model

