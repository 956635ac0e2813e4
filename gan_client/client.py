"""A typed Python client and the ``gan-client`` command line for the GAN Studio service.

    from gan_client import GanClient
    samples = GanClient("http://localhost:8000").generate(model="cgan-mnist", label=7, n=16)
    samples[0].image.save("seven.png")

    gan-client --url http://localhost:8000 generate --model cgan-mnist --label 7 --n 16 -o sevens.png
    gan-client models
    gan-client arithmetic --model dcgan-mnist --term 1,2,3 --term 4,5,6:-1 --term 7,8,9 --neighbors 8 -o sum.png
    gan-client interpolate --model dcgan-mnist --start 1 --end 2 --steps 10 -o walk.png
    gan-client sweep --model infogan-mnist --vary 0 --seed 3 -o sweep.png

The URL also comes from GAN_URL (default http://localhost:8000).
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

DEFAULT_URL = "http://localhost:8000"


class GanClientError(RuntimeError):
    """The server could not be reached, or answered with an error (``status`` is then set)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


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
        image = Image.open(io.BytesIO(base64.b64decode(item.pop("png"))))
        image.load()
        known = {k: item.pop(k) for k in ("seed", "label", "label_name", "category", "codes", "z")
                 if k in item}
        return cls(image=image, **known, extra=item)


def label_arg(text: str) -> int | str:
    """--label 7 is the index 7, --label sneaker a class name."""
    return int(text) if text.strip().isdecimal() else text


def detail_message(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", response.text)
    except (ValueError, AttributeError):
        return response.text or response.reason_phrase
    if isinstance(detail, list):
        return "; ".join(f"{'.'.join(str(p) for p in d.get('loc', [])[1:]) or 'request'}: {d.get('msg')}"
                         for d in detail)
    return str(detail)


class GanClient:
    def __init__(self, url: str | None = None, timeout: float = 60.0) -> None:
        self.url = (url or os.environ.get("GAN_URL") or DEFAULT_URL).rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout)

    def __enter__(self) -> GanClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as e:
            raise GanClientError(f"cannot reach the GAN service at {self.url} ({e.__class__.__name__}: {e})") from None
        if response.status_code >= 400:
            raise GanClientError(f"{response.status_code} from {path}: {detail_message(response)}",
                                 response.status_code)
        return response

    @staticmethod
    def body(**fields: Any) -> dict[str, Any]:
        return {k: v for k, v in fields.items() if v is not None}

    # --- API -------------------------------------------------------------------------------------
    def health(self) -> bool:
        return self.request("GET", "/healthz").json().get("status") == "ok"

    def models(self) -> list[dict[str, Any]]:
        return self.request("GET", "/models").json()

    def model(self, name: str) -> dict[str, Any]:
        return self.request("GET", f"/models/{name}").json()

    def generate(self, model: str, n: int = 1, seed: int | None = None, label: int | str | None = None,
                 labels: list[int | str] | None = None, category: int | None = None, codes: list[float] | None = None,
                 seeds: list[int] | None = None, return_latents: bool = False) -> list[Sample]:
        """Images as PIL images with their seeds; image i of seed s is the image of seed s + i."""
        body = self.body(model=model, n=n if seeds is None else None, seed=seed, label=label, labels=labels,
                         category=category, codes=codes, seeds=seeds, return_latents=return_latents or None,
                         format="json")
        return [Sample.from_json(i) for i in self.request("POST", "/generate", json=body).json()["images"]]

    def generate_array(self, model: str, n: int = 1, seed: int | None = None, **conditioning: Any) -> np.ndarray:
        """The uint8 pixels (n, H, W, C) as one array, without PNG encoding on either side (for bulk use)."""
        body = self.body(model=model, n=n, seed=seed, format="npy", **conditioning)
        return np.load(io.BytesIO(self.request("POST", "/generate", json=body).content), allow_pickle=False)

    def generate_png(self, model: str, n: int = 1, columns: int | None = None, scale: int = 1,
                     **conditioning: Any) -> bytes:
        """One PNG: the image, or a grid of all of them."""
        body = self.body(model=model, n=n, columns=columns, scale=scale, format="png", **conditioning)
        return self.request("POST", "/generate", json=body).content

    def arithmetic(self, model: str, terms: list[dict[str, Any]], neighbors: int = 0, seed: int = 0,
                   **conditioning: Any) -> list[Sample]:
        """The result of sum(weight * mean z of seeds) first, then its noisy neighbours."""
        body = self.body(model=model, terms=terms, neighbors=neighbors, seed=seed, format="json", **conditioning)
        return [Sample.from_json(i) for i in self.request("POST", "/latent/arithmetic", json=body).json()["images"]]

    def interpolate(self, model: str, start: int | list[float], end: int | list[float], steps: int = 8,
                    method: str = "slerp", **conditioning: Any) -> list[Sample]:
        """Frames from start to end; each end is a seed or a z vector."""
        ref = lambda v: {"seed": v} if isinstance(v, int) else {"z": list(v)}  # noqa: E731
        body = self.body(model=model, start=ref(start), end=ref(end), steps=steps, method=method, format="json",
                         **conditioning)
        return [Sample.from_json(i) for i in self.request("POST", "/latent/interpolate", json=body).json()["images"]]

    def sweep(self, model: str, vary: str | int = "category", seed: int = 0, steps: int = 9, low: float = -2.0,
              high: float = 2.0, rows: int = 4) -> list[Sample]:
        body = self.body(model=model, vary=vary, seed=seed, steps=steps, low=low, high=high, rows=rows, format="json")
        return [Sample.from_json(i) for i in self.request("POST", "/infogan/sweep", json=body).json()["images"]]

    def post_png(self, path: str, body: dict[str, Any]) -> bytes:
        return self.request("POST", path, json=self.body(**body) | {"format": "png"}).content


# --- command line ------------------------------------------------------------------------------------
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gan-client", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=None, help=f"service URL (default: $GAN_URL or {DEFAULT_URL})")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("models", help="list the models and their measured quality")

    def image_command(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.add_argument("--model", required=True)
        p.add_argument("-o", "--output", type=Path, required=True, help="PNG file to write")
        p.add_argument("--scale", type=int, default=1)
        p.add_argument("--columns", type=int)
        return p

    def conditioning(p: argparse.ArgumentParser) -> None:
        p.add_argument("--label", type=label_arg, help="CGAN class: an index (a digit) or a class name (sneaker)")
        p.add_argument("--category", type=int, help="InfoGAN category")
        p.add_argument("--codes", type=floats, help="InfoGAN continuous codes, e.g. 0.5,-1")

    g = image_command("generate", "generate images (a grid when --n > 1)")
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
    return parser


def run(args: argparse.Namespace, client: GanClient) -> str:
    if args.command == "models":
        rows = []
        for card in client.models():
            m = card.get("metrics", {})
            quality = ", ".join(f"{k} {m[k]}" for k in ("frechet_distance", "label_accuracy", "category_accuracy",
                                                          "digit_share_min", "digit_share_max") if k in m)
            rows.append(f"{card['name']:16} {card['family']:8} {card['dataset'] or '':12} {quality}")
        return "\n".join(rows)
    cond = {"label": args.label, "category": args.category, "codes": args.codes} if hasattr(args, "label") else {}
    common = {"model": args.model, "scale": args.scale, "columns": args.columns}
    if args.command == "generate":
        png = client.post_png("/generate", common | cond | {"n": args.n, "seed": args.seed})
    elif args.command == "arithmetic":
        png = client.post_png("/latent/arithmetic", common | cond | {"terms": args.term, "neighbors": args.neighbors,
                                                                      "seed": args.seed})
    elif args.command == "interpolate":
        png = client.post_png("/latent/interpolate", common | cond | {
            "start": {"seed": args.start}, "end": {"seed": args.end}, "steps": args.steps, "method": args.method})
    else:
        vary = args.vary if args.vary == "category" else int(args.vary)
        png = client.post_png("/infogan/sweep", common | {"vary": vary, "seed": args.seed, "steps": args.steps,
                                                          "rows": args.rows})
    args.output.write_bytes(png)
    return f"wrote {args.output} ({len(png)} bytes)"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with GanClient(args.url) as client:
            print(run(args, client))
    except GanClientError as e:
        print(f"gan-client: {e}", file=sys.stderr)
        return 1
    except ValueError as e:  # e.g. --vary that is neither "category" nor a number
        print(f"gan-client: {e}", file=sys.stderr)
        return 2
    return 0


def cli() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    cli()
