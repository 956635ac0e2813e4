"""The request layer of the GAN Studio client and its two clients on it: ``GanClient`` (httpx.Client) and
``AsyncGanClient`` (httpx.AsyncClient, the same methods awaited). Each API method builds one ``Call`` (what to
send, how to read a good answer) in ``BaseClient``; each client only sends it, trying again where that is safe.

Retries: a 429 or 503 answer, or a connection that failed or broke, is tried again up to ``retries`` times (3),
after the answer's Retry-After (at most 30 s) or 0.25, 0.5, 1 s, ... -- but only for a request whose answer the
request fixes: every GET, POST /generate with a seed or seeds, and POST /latent/arithmetic, /latent/interpolate,
/infogan/sweep and /infogan/encode (their seeds default to 0 and their latents are seeds or z vectors). A
/generate without a seed draws one on the server and is never sent twice. A read timeout is not retried either
(the server may still be working on it). Errors are ``GanClientError`` subclasses (gan_client.errors).

numpy is optional (the ``numpy`` extra): numpy numbers, z vectors and images are taken as arguments without the
client importing it (a numpy value means its caller has), and only ``generate_array``'s npy answer needs it.
"""

from __future__ import annotations

import asyncio
import base64
import io
import numbers
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar
from urllib.parse import quote

import httpx
from PIL import Image

from gan_client.errors import ServiceUnreachable, error_for, retry_after
from gan_client.results import Encoding, ModelCard, Sample

if TYPE_CHECKING:
    import numpy as np

DEFAULT_URL = "http://localhost:8000"
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_RETRIES = 3
MAX_RETRY_WAIT_S = 30.0  # the longest wait between two tries, whatever Retry-After says
BACKOFF_S = 0.25  # the first wait when the answer names none, doubled on each further try
RETRIED_STATUSES = frozenset({429, 503})
# The request never reached the server, or the answer was lost (a reused connection the server had closed). A read
# timeout is not here: the server may still be working on the request, and a second one would queue behind it.
RETRIED_ERRORS = (httpx.NetworkError, httpx.ConnectTimeout, httpx.RemoteProtocolError)
# POST routes whose answer is a pure function of the body: no random choice is left to the server.
DETERMINISTIC_POSTS = frozenset({"/latent/arithmetic", "/latent/interpolate", "/infogan/sweep", "/infogan/encode"})

T = TypeVar("T")
ImageInput: TypeAlias = "str | os.PathLike | bytes | Image.Image | np.ndarray"


def loaded_numpy() -> ModuleType | None:
    """numpy if it is imported, else None: a numpy argument can only come from a caller that imported it."""
    return sys.modules.get("numpy")


def import_numpy() -> ModuleType:
    """numpy, for the one answer made of it (npy), or an ImportError that says how to install it."""
    try:
        import numpy
    except ImportError as e:
        raise ImportError("npy answers need numpy: pip install 'gan-client[numpy]' (or numpy itself)") from e
    return numpy


# --- requests, shared by both clients ------------------------------------------------------------------------
def plain(value: Any) -> Any:
    """``value`` as JSON takes it: numpy scalars and arrays become Python numbers and lists, tuples lists."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    np = loaded_numpy()
    if np is not None and isinstance(value, np.ndarray):
        return value.tolist()
    if np is not None and isinstance(value, np.generic):
        return value.item()
    return value


def body(**values: Any) -> dict[str, Any]:
    """A JSON body of the values given (None: left to the server's default)."""
    return {k: plain(v) for k, v in values.items() if v is not None}


def latent_ref(value: int | Sequence[float] | np.ndarray) -> dict[str, Any]:
    """An interpolation end: a seed (any integer, numpy's too) or a z vector."""
    return {"seed": int(value)} if isinstance(value, numbers.Integral) else {"z": plain(list(value))}


def image_bytes(image: ImageInput) -> bytes:
    """The bytes of an image to upload: a file's as they are (PNG, JPEG, ...), a PIL image or a uint8 array as PNG."""
    if isinstance(image, bytes | bytearray | memoryview):
        return bytes(image)
    np = loaded_numpy()
    if np is not None and isinstance(image, np.ndarray):
        image = Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image)
    if isinstance(image, Image.Image):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()
    return Path(image).read_bytes()


def samples(response: httpx.Response) -> list[Sample]:
    return [Sample.from_json(item) for item in response.json()["images"]]


def content(response: httpx.Response) -> bytes:
    return response.content


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request, built once for both clients: what to send, and how to read a good answer."""

    method: str
    path: str
    read: Callable[[httpx.Response], T]
    json: dict[str, Any] | None = None
    params: dict[str, Any] | None = None

    @property
    def repeatable(self) -> bool:
        """Whether sending it twice asks for the same answer, so that a retry cannot change what the caller gets."""
        if self.method in ("GET", "HEAD"):
            return True
        if self.path == "/generate":  # without a seed the server draws one
            return bool(self.json) and (self.json.get("seed") is not None or self.json.get("seeds") is not None)
        return self.path in DETERMINISTIC_POSTS


@dataclass(frozen=True)
class Retry:
    seconds: float


class BaseClient:
    """What the sync and the async client share: the settings, the request each method makes, and what an answer
    means (a result, an error, or a wait before the next try). Each client adds ``send``, which performs a Call:
    GanClient's returns the result, AsyncGanClient's an awaitable of it."""

    def __init__(self, url: str | None = None, timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT_S, *,
                 api_key: str | None = None, retries: int = DEFAULT_RETRIES,
                 max_retry_wait: float = MAX_RETRY_WAIT_S, backoff: float = BACKOFF_S) -> None:
        self.url = (url or os.environ.get("GAN_URL") or DEFAULT_URL).rstrip("/")
        api_key = api_key if api_key is not None else os.environ.get("GAN_API_KEY")
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout = timeout
        self.retries, self.max_retry_wait, self.backoff = retries, max_retry_wait, backoff

    def send(self, call: Call[T]) -> Any:
        raise NotImplementedError

    def outcome(self, call: Call[T], attempt: int, answer: httpx.Response | httpx.TransportError) -> T | Retry:
        """The result of try number ``attempt`` (0 first), a Retry, or the error raised."""
        again = call.repeatable and attempt < self.retries
        if isinstance(answer, httpx.TransportError):
            if again and isinstance(answer, RETRIED_ERRORS):
                return Retry(self.wait(attempt, None))
            raise ServiceUnreachable(f"cannot reach the GAN service at {self.url} "
                                     f"({answer.__class__.__name__}: {answer})")
        if answer.status_code in RETRIED_STATUSES and again:
            return Retry(self.wait(attempt, retry_after(answer)))
        if answer.status_code >= 400:
            raise error_for(answer, call.path)
        return call.read(answer)

    def wait(self, attempt: int, told: float | None) -> float:
        return min(self.max_retry_wait, self.backoff * 2**attempt if told is None else told)

    # --- the API ---------------------------------------------------------------------------------------------
    def health(self) -> bool:
        return self.send(Call("GET", "/healthz", lambda r: r.json().get("status") == "ok"))

    def models(self) -> list[ModelCard]:
        """Every loaded model's card."""
        return self.send(Call("GET", "/models", lambda r: [ModelCard.from_json(c) for c in r.json()]))

    def model(self, name: str) -> ModelCard:
        return self.send(Call("GET", f"/models/{quote(name, safe='')}", lambda r: ModelCard.from_json(r.json())))

    def generate(self, model: str, n: int = 1, seed: int | None = None, label: int | str | None = None,
                 labels: Sequence[int | str] | None = None, category: int | None = None,
                 codes: Sequence[float] | None = None, seeds: Sequence[int] | None = None,
                 return_latents: bool = False) -> list[Sample]:
        """Images as PIL images with their seeds; image i of seed s is the image of seed s + i."""
        request = body(model=model, n=n if seeds is None else None, seed=seed, label=label, labels=labels,
                       category=category, codes=codes, seeds=seeds, return_latents=return_latents or None,
                       format="json")
        return self.send(Call("POST", "/generate", samples, json=request))

    def generate_array(self, model: str, n: int = 1, seed: int | None = None, **conditioning: Any) -> np.ndarray:
        """The uint8 pixels (n, H, W, C) as one array, without PNG encoding on either side (for bulk use)."""
        np = import_numpy()  # before the request: without numpy its answer could not be read
        read = lambda r: np.load(io.BytesIO(r.content), allow_pickle=False)
        return self.send(Call("POST", "/generate", read, json=body(model=model, n=n, seed=seed, format="npy",
                                                                   **conditioning)))

    def generate_png(self, model: str, n: int = 1, columns: int | None = None, scale: int = 1,
                     **conditioning: Any) -> bytes:
        """One PNG: the image, or a grid of all of them."""
        return self.send(Call("POST", "/generate", content, json=body(model=model, n=n, columns=columns,
                                                                      scale=scale, format="png", **conditioning)))

    def sample_png(self, model: str, seed: int | None = None, n: int = 1, label: int | str | None = None,
                   category: int | None = None, codes: Sequence[float] | str | None = None,
                   columns: int | None = None, scale: int = 1) -> bytes:
        """GET /models/{model}/sample.png: the PNG of POST /generate, by URL (cached by the server with a seed)."""
        if codes is not None and not isinstance(codes, str):
            codes = ",".join(str(c) for c in plain(list(codes)))
        params = body(seed=seed, n=n, label=None if label is None else str(plain(label)), category=category,
                      codes=codes, columns=columns, scale=scale)
        return self.send(Call("GET", f"/models/{quote(model, safe='')}/sample.png", content, params=params))

    def arithmetic(self, model: str, terms: Sequence[dict[str, Any]], neighbors: int = 0, seed: int = 0,
                   **conditioning: Any) -> list[Sample]:
        """The result of sum(weight * mean z of seeds) first, then its noisy neighbours."""
        return self.send(Call("POST", "/latent/arithmetic", samples, json=body(
            model=model, terms=terms, neighbors=neighbors, seed=seed, format="json", **conditioning)))

    def interpolate(self, model: str, start: int | Sequence[float], end: int | Sequence[float], steps: int = 8,
                    method: str = "slerp", **conditioning: Any) -> list[Sample]:
        """Frames from start to end; each end is a seed or a z vector."""
        return self.send(Call("POST", "/latent/interpolate", samples, json=body(
            model=model, start=latent_ref(start), end=latent_ref(end), steps=steps, method=method, format="json",
            **conditioning)))

    def sweep(self, model: str, vary: str | int = "category", seed: int = 0, steps: int = 9, low: float = -2.0,
              high: float = 2.0, rows: int = 4, codes: Sequence[float] | None = None) -> list[Sample]:
        """An InfoGAN grid: categories by seeds, or categories by values of code ``vary``."""
        return self.send(Call("POST", "/infogan/sweep", samples, json=body(
            model=model, vary=vary, seed=seed, steps=steps, low=low, high=high, rows=rows, codes=codes,
            format="json")))

    def encode(self, model: str, image: ImageInput) -> Encoding:
        """InfoGAN's Q reads an image: a file path, the file's bytes, a PIL image or a uint8 array; any size, white
        on black or black on white."""
        data = base64.b64encode(image_bytes(image)).decode("ascii")
        return self.send(Call("POST", "/infogan/encode", lambda r: Encoding.from_json(r.json()),
                              json={"model": model, "image": data}))

    def post_png(self, path: str, values: dict[str, Any]) -> bytes:
        """Any image route's answer as one PNG (what the command line writes); None values are left out."""
        return self.send(Call("POST", path, content, json=body(**values) | {"format": "png"}))


class GanClient(BaseClient):
    """The client on httpx.Client; ``sleep`` waits between tries (injectable for tests), ``transport`` is httpx's.

        with GanClient("http://localhost:8000", api_key="k", timeout=30, retries=3) as client:
            client.generate(model="cgan-mnist", label=7, seed=1)
    """

    def __init__(self, url: str | None = None, timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT_S, *,
                 api_key: str | None = None, retries: int = DEFAULT_RETRIES, max_retry_wait: float = MAX_RETRY_WAIT_S,
                 backoff: float = BACKOFF_S, sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(url, timeout, api_key=api_key, retries=retries, max_retry_wait=max_retry_wait,
                         backoff=backoff)
        self.sleep = sleep
        self.http = httpx.Client(base_url=self.url, timeout=timeout, headers=self.headers, transport=transport)

    def __enter__(self) -> GanClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                answer: httpx.Response | httpx.TransportError = self.http.request(
                    call.method, call.path, json=call.json, params=call.params)
            except httpx.TransportError as e:
                answer = e
            outcome = self.outcome(call, attempt, answer)
            if not isinstance(outcome, Retry):
                return outcome
            self.sleep(outcome.seconds)
            attempt += 1


class AsyncGanClient(BaseClient):
    """GanClient's methods as coroutines, on httpx.AsyncClient (``sleep`` is awaited between tries).

        async with AsyncGanClient("http://localhost:8000") as client:
            samples, card = await asyncio.gather(client.generate(model="cgan-mnist", seed=1), client.model("gan-mnist"))
    """

    def __init__(self, url: str | None = None, timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT_S, *,
                 api_key: str | None = None, retries: int = DEFAULT_RETRIES, max_retry_wait: float = MAX_RETRY_WAIT_S,
                 backoff: float = BACKOFF_S, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(url, timeout, api_key=api_key, retries=retries, max_retry_wait=max_retry_wait,
                         backoff=backoff)
        self.sleep = sleep
        self.http = httpx.AsyncClient(base_url=self.url, timeout=timeout, headers=self.headers, transport=transport)

    async def __aenter__(self) -> AsyncGanClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                answer: httpx.Response | httpx.TransportError = await self.http.request(
                    call.method, call.path, json=call.json, params=call.params)
            except httpx.TransportError as e:
                answer = e
            outcome = self.outcome(call, attempt, answer)
            if not isinstance(outcome, Retry):
                return outcome
            await self.sleep(outcome.seconds)
            attempt += 1

