"""Publishing is a file operation: the watcher sees a checkpoint written into (or removed from) a served folder and
asks the registry to reread the folders, which loads the new version beside the old and swaps it in once it
validated and warmed up (app/registry.py). It uses the kernel's file events through ``watchfiles``, or polls
(``GAN_WATCH_POLLING=true``, every ``GAN_WATCH_POLL_MS``) on file systems that have none.

    publish:  python -m training.train --preset cgan-mnist --checkpoint-dir /models --overwrite
    roll back: copy the old NAME.safetensors and NAME.json back (the same version is the same sha256)
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from watchfiles import awatch

from app.config import Settings
from app.registry import Registry

log = logging.getLogger("gan_studio")
SUFFIXES = (".json", ".safetensors", ".pending")


def checkpoint_file(_change: object, path: str) -> bool:
    return path.endswith(SUFFIXES)


async def watch(registry: Registry, settings: Settings, stop: asyncio.Event) -> None:
    """Rereads the folders after each settled batch of changes to checkpoint files, until ``stop`` is set."""
    folders = [folder for folder in registry.folders() if Path(folder).is_dir()]
    if not folders:
        return
    log.info("watching %s for new checkpoints (%s)", ", ".join(map(str, folders)),
             f"polling every {settings.watch_poll_ms} ms" if settings.watch_polling else "file events")
    async for _ in awatch(*folders, watch_filter=checkpoint_file, stop_event=stop, recursive=False,
                          force_polling=settings.watch_polling, poll_delay_ms=settings.watch_poll_ms,
                          debounce=1000, step=200, rust_timeout=1000, yield_on_timeout=False):
        try:
            report = await registry.reload()
        except Exception:  # noqa: BLE001 - a reload that fails must not end the watching
            log.exception("rereading the checkpoint folders failed")
            continue
        if report.loaded or report.refused or report.removed:
            log.warning("checkpoints changed: loaded %s, refused %s, removed %s", report.loaded or "none",
                        sorted(report.refused) or "none", report.removed or "none")


def start_watching(registry: Registry, settings: Settings) -> tuple[asyncio.Task, asyncio.Event]:
    stop = asyncio.Event()
    return asyncio.get_running_loop().create_task(watch(registry, settings, stop)), stop
