"""The one way this project writes a file (whole or not at all), and where the project's root is.

    atomic_write_bytes(Path("runs/x/train_state.safetensors"), data)

The data goes to a hidden temporary file beside the target, is flushed to disk, then renamed over the
target, so a reader (or a resumed run) sees the old file or the new one, never half of one.

Fault injection: with ``GAN_CRASH_AFTER_WRITES=N`` in the environment the process kills itself (SIGKILL,
no clean-up) right after its Nth file operation, so tests can stop a run between any two writes.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

REPO_ROOT = Path(__file__).resolve().parent.parent  # the checkout (or, installed as a copy, site-packages)
CRASH_AFTER_WRITES = "GAN_CRASH_AFTER_WRITES"
_operations = 0


def write_point() -> None:
    """Marks the end of one file operation (a write or a rename): where a fault-injection test may stop us."""
    global _operations
    _operations += 1
    if os.environ.get(CRASH_AFTER_WRITES) == str(_operations):
        os.kill(os.getpid(), signal.SIGKILL)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    write_point()
    atomic_rename(tmp, path)


@contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """The same for a file written in pieces (a dataset of 100,000 images): a hidden temporary file, renamed over
    ``path`` only when the block ends without an error, removed otherwise."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w+b") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    write_point()
    atomic_rename(tmp, path)


def atomic_rename(source: Path, target: Path) -> None:
    os.replace(source, target)
    write_point()
