"""A typed Python client (sync and async) and the ``gan-client`` command line for the GAN Studio service.

    from gan_client import AsyncGanClient, GanClient
    with GanClient("http://localhost:8000", api_key="...") as client:     # api_key: else $GAN_API_KEY
        samples = client.generate(model="cgan-mnist", label=7, n=16, seed=1)
        samples[0].image.save("seven.png")                                 # PIL images, each with its seed
        png = client.sample_png("dcgan-mnist", seed=3, n=16)               # GET /models/{name}/sample.png
        read = client.encode("infogan-mnist", "digit.png")                 # .digit, .category, .codes, .seen
        cards = client.models()                                            # ModelCards: .z_dim, .metrics, ...
    async with AsyncGanClient("http://localhost:8000") as client:          # the same methods, awaited
        samples = await client.generate(model="cgan-mnist", label=7, n=16, seed=1)

    gan-client --url http://localhost:8000 generate --model cgan-mnist --label 7 --n 16 -o sevens.png
    gan-client models
    gan-client sample --model dcgan-mnist --seed 3 --n 16 -o - > grid.png
    gan-client generate --model infogan-mnist --category 2 --codes -1,0.5 -o two.png --url http://host:8000
    gan-client encode --model infogan-mnist digit.png [--json]
    gan-client arithmetic --model dcgan-mnist --term 1,2,3 --term 4,5,6:-1 --term 7,8,9 --neighbors 8 -o sum.png
    gan-client interpolate --model dcgan-mnist --start 1 --end 2 --steps 10 -o walk.png
    gan-client sweep --model infogan-mnist --vary 0 --seed 3 -o sweep.png

The URL also comes from GAN_URL (default http://localhost:8000), the API key from GAN_API_KEY (sent as
``Authorization: Bearer``); --url and --api-key go before or after the command. ``-o -`` writes the PNG to
standard output.

Retries: a 429 or 503 answer, or a connection that failed or broke, is tried again up to ``retries`` times (3),
after the answer's Retry-After (at most 30 s) or 0.25, 0.5, 1 s, ... -- but only for a request whose answer the
request fixes: every GET, POST /generate with a seed or seeds, and POST /latent/arithmetic, /latent/interpolate,
/infogan/sweep and /infogan/encode (their seeds default to 0 and their latents are seeds or z vectors). A
/generate without a seed draws one on the server and is never sent twice. A read timeout is not retried either
(the server may still be working on it). Errors are ``GanClientError`` subclasses with ``status``, ``detail`` (the
server's error items) and ``field`` (``n``, ``terms.0.seeds``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import numbers
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, fields
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
import numpy as np
from PIL import Image

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
LOCATIONS = frozenset({"body", "query", "path", "header"})

T = TypeVar("T")
ImageInput = str | os.PathLike | bytes | Image.Image | np.ndarray


# --- errors --------------------------------------------------------------------------------------------------
def field_of(loc: Sequence[str | int]) -> str | None:
    """The request field an error item points at, dotted: ``["body", "terms", 0, "seeds"]`` -> ``terms.0.seeds``;
    None for the request as a whole (``["body"]`` or ``[]``)."""
    parts = list(loc)[1:] if loc and loc[0] in LOCATIONS else list(loc)
    return ".".join(str(p) for p in parts) or None


class GanClientError(RuntimeError):
    """The server could not be reached, or answered with an error. ``status`` is the HTTP status (None when there
    was no answer), ``detail`` the server's error items (``[{"loc", "msg", "type"}]``), ``field`` the first item's
    field (``n``, ``terms.0.seeds``; None for the request as a whole), ``retry_after`` the seconds the server asked
    to wait (429, 503)."""

    def __init__(self, message: str, status: int | None = None, detail: list[dict[str, Any]] | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.detail, self.retry_after = status, detail or [], retry_after

    @property
    def fields(self) -> list[str]:
        return [f for f in (field_of(item.get("loc") or []) for item in self.detail) if f]

    @property
    def field(self) -> str | None:
        return next(iter(self.fields), None)


class ServiceUnreachable(GanClientError):
    """No answer: the server is down, the URL is wrong, or the connection broke or timed out."""


class Unauthorized(GanClientError):
    """401: the server wants an API key (``api_key=`` or GAN_API_KEY) and got none, or a wrong one."""


class NotFound(GanClientError):
    """404: an unknown model (``field`` is ``model``, or ``name`` for a path)."""


class InvalidRequest(GanClientError):
    """422: a value out of bounds or not fitting the model; ``field`` names it."""


class RateLimited(GanClientError):
    """429: over the server's rate limit, still after the retries (or for a request that is not retried)."""


class ServiceUnavailable(GanClientError):
    """503: the model failed to load, or the server is busy (queue full, queue timeout)."""


ERRORS = {401: Unauthorized, 404: NotFound, 422: InvalidRequest, 429: RateLimited, 503: ServiceUnavailable}


def retry_after(response: httpx.Response) -> float | None:
    """The Retry-After header in seconds (a number or an HTTP date), None when absent or unreadable."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def error_for(response: httpx.Response, path: str) -> GanClientError:
    """The error answer as an exception whose message names each field: ``422 from /generate: n: ...``."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, str):  # not this API's shape (a proxy's error, say), but readable
        detail = [{"loc": [], "msg": detail}]
    if not isinstance(detail, list):
        text = response.text.strip()[:200] or response.reason_phrase
        detail, message = [], text
    else:
        detail = [d if isinstance(d, dict) else {"msg": str(d)} for d in detail]
        message = "; ".join(f"{field_of(d.get('loc') or []) or 'request'}: {d.get('msg')}" for d in detail)
    kind = ERRORS.get(response.status_code, GanClientError)
    return kind(f"{response.status_code} from {path}: {message}", response.status_code, detail,
                retry_after(response))


# --- results -------------------------------------------------------------------------------------------------
def decode_png(text: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(text)))
    image.load()
    return image


def split_known(cls: type, item: dict[str, Any], skip: Sequence[str] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """``item``'s keys that are fields of the dataclass ``cls``, and the rest (for ``extra``)."""
    names = {f.name for f in fields(cls)} - {"extra", *skip}
    return {k: v for k, v in item.items() if k in names}, {k: v for k, v in item.items() if k not in names}


@dataclass
class Sample:
    """One generated image and what made it."""

    image: Image.Image
    seed: int | None = None
    label: int | None = None
    label_name: str | None = None
    category: int | None = None
    codes: list[float] | None = None
    z: list[float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> Sample:
        item = dict(item)
        image = decode_png(item.pop("png"))
        known, extra = split_known(cls, item, skip=["image"])
        return cls(image=image, **known, extra=extra)


@dataclass
class ModelCard:
    """One model's card from GET /models: sizes, conditioning, training and measured quality. Keys this client
    does not know (a newer server's) are kept in ``extra``; ``card["z_dim"]`` reads like ``card.z_dim``."""

    name: str
    family: str
    image_size: int
    channels: int
    z_dim: int
    dataset: str | None = None
    num_classes: int | None = None
    num_categories: int | None = None
    num_continuous: int | None = None
    class_names: list[str] | None = None
    encoder: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    epochs: int | None = None
    steps: int | None = None
    training_time_s: float | None = None
    training_device: str | None = None
    loaded_at: str | None = None
    refused: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> ModelCard:
        known, extra = split_known(cls, item)
        return cls(**known, extra=extra)

    def __getitem__(self, key: str) -> Any:  # cards were dicts before they were typed
        if key != "extra" and key in {f.name for f in fields(self)}:
            return getattr(self, key)
        return self.extra[key]


@dataclass
class Encoding:
    """What InfoGAN's Q read in an image (POST /infogan/encode)."""

    model: str
    category: int
    probabilities: list[float]
    codes: list[float]
    seen: Image.Image  # the 28 x 28 image Q read, after MNIST-like preparation
    model_version: str
    digit: int | None = None
    digit_probabilities: list[float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> Encoding:
        item = dict(item)
        seen = decode_png(item.pop("seen"))
        known, extra = split_known(cls, item, skip=["seen"])
        return cls(seen=seen, **known, extra=extra)

    def summary(self) -> str:
        """One line: ``digit 6 (category 3, p 0.97); codes -0.12, 0.4``."""
        p = max(self.probabilities)
        what = (f"digit {self.digit} (category {self.category}, p {p:.2f})" if self.digit is not None
                else f"category {self.category} (p {p:.2f})")
        return f"{what}; codes {', '.join(f'{c:g}' for c in self.codes)}"


# --- requests, shared by both clients ------------------------------------------------------------------------
def plain(value: Any) -> Any:
    """``value`` as JSON takes it: numpy scalars and arrays become Python numbers and lists, tuples lists."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
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
    if isinstance(image, np.ndarray):
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


# --- command line --------------------------------------------------------------------------------------------
class UsageError(Exception):
    """A mistake on the command line found before any request: one line on stderr, exit code 2."""


def label_arg(text: str) -> int | str:
    """--label 7 is the index 7, --label sneaker a class name."""
    return int(text) if text.strip().isdecimal() else text


def parse_term(text: str) -> dict[str, Any]:
    """``1,2,3`` or ``1,2,3:-1`` (seeds, then an optional weight)."""
    seeds, _, weight = text.partition(":")
    try:
        return {"seeds": [int(s) for s in seeds.split(",")], "weight": float(weight) if weight else 1.0}
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad term {text!r}: expected seeds like 1,2,3 or 1,2,3:-1") from None


def floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


NUMBER_LIST_OPTIONS = ("--codes",)
STARTS_NEGATIVE = re.compile(r"-\.?\d")


def join_negative_values(argv: Sequence[str]) -> list[str]:
    """``--codes -1,0.5`` as ``--codes=-1,0.5``: argparse takes a word that starts with '-' for an option unless it
    is a single negative number."""
    out: list[str] = []
    for word in argv:
        if out and out[-1] in NUMBER_LIST_OPTIONS and STARTS_NEGATIVE.match(word):
            out[-1] = f"{out[-1]}={word}"
        else:
            out.append(word)
    return out


def connection_options(parser: argparse.ArgumentParser, default: Any) -> None:
    """--url and --api-key, on the main parser (default None) and on each command (default SUPPRESS, so that a
    value given before the command is not overwritten by the command's default)."""
    parser.add_argument("--url", default=default, help=f"service URL (default: $GAN_URL or {DEFAULT_URL})")
    parser.add_argument("--api-key", default=default, help="API key, sent as Authorization: Bearer (default: "
                        "$GAN_API_KEY)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gan-client", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    connection_options(parser, None)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        connection_options(p, argparse.SUPPRESS)
        p.add_argument("--model", required=True)
        return p

    def image_command(name: str, help: str) -> argparse.ArgumentParser:
        p = command(name, help)
        p.add_argument("-o", "--output", type=Path, required=True, help="PNG file to write; - for standard output")
        p.add_argument("--scale", type=int, default=1)
        p.add_argument("--columns", type=int)
        return p

    def conditioning(p: argparse.ArgumentParser) -> None:
        p.add_argument("--label", type=label_arg, help="CGAN class: an index (a digit) or a class name (sneaker)")
        p.add_argument("--category", type=int, help="InfoGAN category")
        p.add_argument("--codes", type=floats, help="InfoGAN continuous codes, e.g. -1,0.5")

    models = sub.add_parser("models", help="list the models and their measured quality")
    connection_options(models, argparse.SUPPRESS)
    for name, help in (("generate", "generate images (a grid when --n > 1)"),
                       ("sample", "the same by GET /models/{name}/sample.png (cached by the server with a seed)")):
        g = image_command(name, help)
        g.add_argument("--n", type=int, default=1)
        g.add_argument("--seed", type=int)
        conditioning(g)
    a = image_command("arithmetic", "z-vector arithmetic: sum of weight x mean z of each term's seeds")
    a.add_argument("--term", type=parse_term, action="append", required=True, help="seeds[:weight], e.g. 4,5,6:-1")
    a.add_argument("--neighbors", type=int, default=0)
    a.add_argument("--seed", type=int, default=0)
    conditioning(a)
    i = image_command("interpolate", "a strip from one seed's image to another's")
    i.add_argument("--start", type=int, required=True)
    i.add_argument("--end", type=int, required=True)
    i.add_argument("--steps", type=int, default=8)
    i.add_argument("--method", choices=["slerp", "lerp"], default="slerp")
    conditioning(i)
    s = image_command("sweep", "an InfoGAN sweep grid")
    s.add_argument("--vary", default="category", help='"category" or a continuous code index')
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--steps", type=int, default=9)
    s.add_argument("--rows", type=int, default=4)
    s.add_argument("--codes", type=floats, help="fixed values of the other codes, e.g. -1,0.5")
    e = command("encode", "InfoGAN reads a digit: its category, the digit and the continuous codes")
    e.add_argument("image", help="an image file (PNG, JPEG, ...); - for standard input")
    e.add_argument("--json", action="store_true", help="print the answer as JSON (without the seen image)")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(join_negative_values(sys.argv[1:] if argv is None else argv))


def check_output(output: Path | None) -> None:
    """A missing folder is found before the server does the work."""
    if output is not None and str(output) != "-" and not output.parent.is_dir():
        raise UsageError(f"cannot write {output}: the folder {output.parent} does not exist")


def write_png(output: Path, png: bytes) -> str | None:
    """The PNG to its file (a line to print) or, for ``-`` to standard output (nothing to print then)."""
    if str(output) == "-":
        sys.stdout.buffer.write(png)
        sys.stdout.buffer.flush()
        return None
    output.write_bytes(png)
    return f"wrote {output} ({len(png)} bytes)"


def run(args: argparse.Namespace, client: GanClient) -> str | None:
    if args.command == "models":
        rows = []
        for card in client.models():
            m = card.metrics
            quality = ", ".join(f"{k} {m[k]}" for k in ("frechet_distance", "label_accuracy", "category_accuracy",
                                                          "digit_share_min", "digit_share_max") if k in m)
            rows.append(f"{card.name:16} {card.family:8} {card.dataset or '':12} {quality}")
        return "\n".join(rows)
    if args.command == "encode":
        data = sys.stdin.buffer.read() if args.image == "-" else Path(args.image).read_bytes()
        read = client.encode(args.model, data)
        if args.json:
            told = {f.name: getattr(read, f.name) for f in fields(read) if f.name not in ("seen", "extra")}
            return json.dumps(told | read.extra)
        return read.summary()
    cond = {"label": args.label, "category": args.category, "codes": args.codes} if hasattr(args, "label") else {}
    common = {"model": args.model, "scale": args.scale, "columns": args.columns}
    if args.command == "generate":
        png = client.generate_png(**common, **cond, n=args.n, seed=args.seed)
    elif args.command == "sample":
        png = client.sample_png(**common, **cond, n=args.n, seed=args.seed)
    elif args.command == "arithmetic":
        png = client.post_png("/latent/arithmetic", common | cond | {"terms": args.term, "neighbors": args.neighbors,
                                                                      "seed": args.seed})
    elif args.command == "interpolate":
        png = client.post_png("/latent/interpolate", common | cond | {
            "start": {"seed": args.start}, "end": {"seed": args.end}, "steps": args.steps, "method": args.method})
    else:
        vary = args.vary if args.vary == "category" else int(args.vary)
        png = client.post_png("/infogan/sweep", common | {"vary": vary, "seed": args.seed, "steps": args.steps,
                                                          "rows": args.rows, "codes": args.codes})
    return write_png(args.output, png)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        check_output(getattr(args, "output", None))
        with GanClient(args.url, api_key=args.api_key) as client:
            message = run(args, client)
    except GanClientError as e:
        print(f"gan-client: {e}", file=sys.stderr)
        return 1
    except (UsageError, OSError, ValueError) as e:  # a file that is not there; --vary neither "category" nor a number
        print(f"gan-client: {e}", file=sys.stderr)
        return 2
    if message:
        print(message)
    return 0


def cli() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    cli()
