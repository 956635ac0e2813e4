"""Uploaded images are read off the torch thread: a pool of its own (one thread; Pillow's decoders release the
GIL), a bounded queue (past ``GAN_ENCODE_QUEUE`` uploads waiting or being read, a 503 with Retry-After), a time
limit per image (``GAN_ENCODE_TIMEOUT_S``, a 422), and the limits of ``models.images.ImageLimits`` checked from the
image's header before any pixel is decoded. An upload whose client left, still waiting, is never read.

    decoder = Decoder(settings)
    x = await decoder.digit(data)          # (1, 1, 28, 28) in [-1, 1], prepared like MNIST's digits
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import torch

from app.config import Settings
from app.errors import ApiError
from models.images import ImageLimits, NoDigitError, decode_image, mnist_like


def limits_of(settings: Settings) -> ImageLimits:
    return ImageLimits(max_pixels=settings.encode_max_pixels, max_side=settings.encode_max_side,
                       max_aspect=settings.encode_max_aspect, max_scans=settings.encode_max_scans)


def read_digit(data: bytes, limits: ImageLimits) -> torch.Tensor:
    try:
        return mnist_like(decode_image(data, limits))
    except NoDigitError as e:
        raise ApiError(422, str(e), "image") from None
    except ValueError as e:
        raise ApiError(422, f"image {e}", "image") from None


class Decoder:
    def __init__(self, settings: Settings) -> None:
        self.settings, self.limits = settings, limits_of(settings)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode")
        self.taken = 0  # uploads waiting or being read (one timed out is counted until its thread lets go)

    async def digit(self, data: bytes) -> torch.Tensor:
        s = self.settings
        if self.taken >= s.encode_queue:
            raise ApiError(503, f"{s.encode_queue} uploads are already being read (GAN_ENCODE_QUEUE); retry shortly",
                           headers={"Retry-After": str(s.retry_after_s)})
        self.taken += 1
        loop = asyncio.get_running_loop()
        started = threading.Event()

        def job() -> torch.Tensor:
            started.set()
            return read_digit(data, self.limits)

        future = self.pool.submit(job)
        future.add_done_callback(lambda _: self.release(loop))
        try:
            while not started.is_set() and not future.done():  # waiting its turn is the request deadline's to bound
                await asyncio.sleep(0.01)
            return await asyncio.wait_for(asyncio.wrap_future(future), s.encode_timeout_s)
        except TimeoutError:
            raise ApiError(422, f"image took longer than {s.encode_timeout_s:g} s to read (GAN_ENCODE_TIMEOUT_S)",
                           "image") from None
        finally:
            future.cancel()  # one still waiting is never read (a client that left, or a timeout); a running one ends

    def release(self, loop: asyncio.AbstractEventLoop) -> None:
        """Frees the upload's place, on the event loop's thread (done callbacks run in the pool's)."""
        def free() -> None:
            self.taken -= 1

        try:
            loop.call_soon_threadsafe(free)
        except RuntimeError:  # the loop is closed: the service is stopping
            pass

    def stop(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
