"""Seeded answers of every route for every shipped model, as sha256s: the table the redesign of issue 23 keeps.

The table (``seeded_answers.json`` beside this file) was written on main before the redesign; the test
``test_seeded_answers.py`` asks the app of today for the same requests and compares. A change that moves a single
pixel or byte of a seeded answer fails it. Rewrite the table only for a change meant to change answers:

    python -m tests.app.seeded_answers --write
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

TABLE = Path(__file__).with_name("seeded_answers.json")
DIGIT_PNG = (  # the first digit of the bundled test split (a 6), 28 x 28, as base64 PNG
    "iVBORw0KGgoAAAANSUhEUgAAABwAAAAcCAAAAABXZoBIAAABDklEQVR42mNgoAtgEo25+/8AK3bJpkff//78bIVNSjL0zd+/lyyxavO++Pfv"
    "x0werHJSX/7+vSuH3brod38/ZfFjlzP//vdvOA4/8Kz9+yGDBYdk29+/sbg8r/7hbzYTLsnsv/cw3QKzxZJh70cGBn1PdQaGpzuvvkNRw//hr"
    "z8Dw+Ivf//+/fv37yEbFJ2yvAwMDJZhLE1XGRicXKy3he5E0sn19e8rMd8/mxkZGBgYvL79+8yBbG7837/hDEvWMjMwMDAwbP77lxNZUv7C3/"
    "f20HANvP3vFhuKk9havv79vDfGlEGz7Nvfv9OZ0Xxl0/fy799fX3/+vZcrCJFjRJaWSxEP/LOZoe8mwyAFAFejZ8J5ub2cAAAAAElFTkSuQmCC"
)
MODELS = {  # name -> (family, a class name to ask for by name, or None)
    "gan-mnist": ("gan", None),
    "dcgan-mnist": ("dcgan", None),
    "dcgan-fashion": ("dcgan", None),
    "cgan-mnist": ("cgan", None),
    "cgan-fashion": ("cgan", "sneaker"),
    "infogan-mnist": ("infogan", None),
}


def cases(z_dims: dict[str, int]) -> list[tuple[str, str, str, Any]]:
    """``(case id, method, path, body or query)`` for every route, format and kind of conditioning."""
    out: list[tuple[str, str, str, Any]] = []
    for model, (family, class_name) in MODELS.items():
        cond: list[dict[str, Any]] = [{}]
        if family == "cgan":
            cond = [{"label": 7}, {"label": class_name or "3"}, {"labels": [1, 2, class_name or 0]}]
        if family == "infogan":
            cond = [{}, {"category": 3, "codes": [0.5, -1]}, {"codes": [1.5, 0.25]}]
        for i, c in enumerate(cond):
            n = len(c["labels"]) if "labels" in c else 3
            base = {"model": model, **c}
            out += [
                (f"{model}/generate/png/{i}", "POST", "/generate", base | {"n": n, "seed": 42}),
                (f"{model}/generate/grid/{i}", "POST", "/generate",
                 base | {"n": n, "seed": 7, "columns": 2, "scale": 3}),
                (f"{model}/generate/json/{i}", "POST", "/generate",
                 base | {"n": n, "seed": 11, "format": "json", "return_latents": True}),
                (f"{model}/generate/npy/{i}", "POST", "/generate", base | {"n": n, "seed": 5, "format": "npy"}),
            ]
            if "labels" not in c:
                out += [
                    (f"{model}/generate/seeds/{i}", "POST", "/generate", base | {"seeds": [9, 2, 2**40]}),
                    (f"{model}/generate/one/{i}", "POST", "/generate", base | {"seed": 3}),
                    (f"{model}/interpolate/slerp/{i}", "POST", "/latent/interpolate",
                     base | {"start": {"seed": 1}, "end": {"seed": 2}, "steps": 5}),
                    (f"{model}/interpolate/lerp-json/{i}", "POST", "/latent/interpolate",
                     base | {"start": {"seed": 4}, "end": {"z": [0.1] * z_dims[model]}, "steps": 3,
                             "method": "lerp", "format": "json"}),
                    (f"{model}/arithmetic/{i}", "POST", "/latent/arithmetic",
                     base | {"terms": [{"seeds": [1, 2, 3]}, {"seeds": [4, 5, 6], "weight": -1},
                                       {"seeds": [7, 8, 9]}], "neighbors": 3, "seed": 2}),
                    (f"{model}/arithmetic/json/{i}", "POST", "/latent/arithmetic",
                     base | {"terms": [{"seeds": [10]}, {"z": [0.5] * z_dims[model], "weight": 0.5}],
                             "neighbors": 1, "format": "json"}),
                ]
            query: dict[str, Any] = {"seed": 42, "n": 4, "scale": 2}
            for key, value in c.items():
                if key == "labels":
                    continue
                query[key] = ",".join(map(str, value)) if key == "codes" else value
            out.append((f"{model}/sample.png/{i}", "GET", f"/models/{model}/sample.png", query))
        if family == "cgan":
            # an interpolation whose labels blend (start and end have different seeds' labels)
            out.append((f"{model}/interpolate/blend", "POST", "/latent/interpolate",
                        {"model": model, "start": {"seed": 5}, "end": {"seed": 6}, "steps": 4, "format": "json"}))
        if family == "infogan":
            out += [
                (f"{model}/sweep/code0", "POST", "/infogan/sweep", {"model": model, "vary": 0, "seed": 3}),
                (f"{model}/sweep/code1-json", "POST", "/infogan/sweep",
                 {"model": model, "vary": 1, "seed": 4, "steps": 3, "codes": [0.3, 0], "format": "json"}),
                (f"{model}/sweep/category", "POST", "/infogan/sweep",
                 {"model": model, "vary": "category", "rows": 2, "seed": 8, "codes": [0.2, -0.4]}),
                (f"{model}/sweep/npy", "POST", "/infogan/sweep", {"model": model, "vary": 0, "format": "npy"}),
                (f"{model}/encode", "POST", "/infogan/encode", {"model": model, "image": DIGIT_PNG}),
            ]
    out += [  # errors keep their shape and words
        ("error/unknown-model", "POST", "/generate", {"model": "nope", "seed": 1}),
        ("error/label-on-dcgan", "POST", "/generate", {"model": "dcgan-mnist", "label": 3}),
        ("error/label-name", "POST", "/generate", {"model": "cgan-mnist", "label": "sneaker"}),
        ("error/too-many", "POST", "/generate", {"model": "dcgan-mnist", "n": 300}),
        ("error/pixels", "POST", "/generate", {"model": "dcgan-mnist", "n": 256, "scale": 16}),
        ("error/codes", "POST", "/generate", {"model": "infogan-mnist", "codes": [1, 2, 3]}),
        ("error/category", "POST", "/generate", {"model": "infogan-mnist", "category": 12}),
        ("error/z", "POST", "/latent/interpolate",
         {"model": "dcgan-mnist", "start": {"z": [1, 2]}, "end": {"seed": 1}}),
        ("error/sweep-vary", "POST", "/infogan/sweep", {"model": "infogan-mnist", "vary": 5}),
        ("error/sweep-model", "POST", "/infogan/sweep", {"model": "cgan-mnist"}),
        ("error/query", "GET", "/models/cgan-mnist/sample.png", {"seed": 1, "label": "12"}),
        ("error/seed-plus-n", "POST", "/generate", {"model": "dcgan-mnist", "seed": 2**53 - 2, "n": 4}),
    ]
    return out


def digest(status: int, content_type: str, body: bytes) -> str:
    """The answer's status and body as a sha256; JSON bodies without their timing (``elapsed_ms``) and the model
    version that issue 26 added to them (every image and every other byte stays pinned)."""
    if content_type.startswith("application/json"):
        parsed = json.loads(body)
        if isinstance(parsed, dict):
            parsed.pop("elapsed_ms", None)
            parsed.pop("model_version", None)
        body = json.dumps(parsed, sort_keys=True).encode()
    return hashlib.sha256(f"{status} {content_type}\n".encode() + body).hexdigest()


def answers(client) -> dict[str, str]:
    """Every case's digest, asked of ``client`` (a TestClient of the app on the shipped checkpoints)."""
    z_dims = {card["name"]: card["z_dim"] for card in client.get("/models").json()}
    table = {}
    for case, method, path, payload in cases(z_dims):
        if method == "GET":
            r = client.get(path, params=payload)
        else:
            r = client.post(path, json=payload)
        table[case] = digest(r.status_code, r.headers.get("content-type", ""), r.content)
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the table of seeded answers' sha256s.")
    parser.add_argument("--write", action="store_true", help="write seeded_answers.json (else print a summary)")
    args = parser.parse_args(argv)
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.helpers import shipped_settings

    with TestClient(create_app(shipped_settings())) as client:
        table = answers(client)
    if args.write:
        TABLE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(f"{len(table)} answers" + (f" written to {TABLE}" if args.write else ""))


if __name__ == "__main__":
    main()
