"""The ``gan-client`` command line for the GAN Studio service: each command is one GanClient call, whose PNG is
written to a file or whose answer is printed.

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
standard output. A 429 or 503, or a connection that failed, is retried where the request fixes the answer (see
gan_client.client). A server that is down or answers with an error gives one line on stderr and exit code 1; a
missing output folder or input file, exit code 2.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from gan_client.client import DEFAULT_URL, GanClient
from gan_client.errors import GanClientError


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
