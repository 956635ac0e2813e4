"""The OpenAPI is the contract: fuzzed against the running server, usable as documentation, offline."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.helpers import CHECKPOINTS, shipped_settings
from tests.server import running_server

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# Examples per operation in the fuzzing phases: about a minute on the 2-core machine (FUZZ_EXAMPLES=2000 for
# a long run outside CI).
FUZZ_EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "200")


@pytest.fixture(scope="module")
def url():
    with running_server({"GAN_CHECKPOINT_DIR": CHECKPOINTS}) as base:
        yield base


@pytest.mark.e2e
def test_schemathesis_finds_nothing_in_any_phase(url, tmp_path):
    st = Path(sys.executable).with_name("st")
    run = subprocess.run(
        [str(st), "run", f"{url}/openapi.json", "--checks", CHECKS,
         "--phases", "examples,coverage,fuzzing,stateful", "-n", FUZZ_EXAMPLES, "--seed", "1", "-w", "2",
         "--request-timeout", "30", "--report", "junit", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=180, cwd=tmp_path, env=os.environ | {"NO_COLOR": "1"},
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-6000:]
    summary = re.search(r"(\d+) generated, (\d+) passed", out)
    assert summary and summary.group(1) == summary.group(2) and int(summary.group(1)) > 1000, out[-3000:]
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in out, out[-3000:]


@pytest.mark.integration
def test_the_default_example_of_every_route_works(url):
    """What "Try it out" in /docs sends first, answered 200 (no schema-generated body setting seed and seeds)."""
    spec = httpx.get(url + "/openapi.json").json()
    tried = 0
    for path, ops in spec["paths"].items():
        post = ops.get("post")
        if post is None:
            continue
        examples = post["requestBody"]["content"]["application/json"]["examples"]
        for example in examples.values():
            r = httpx.post(url + path, json=example["value"], timeout=30)
            assert r.status_code == 200, (path, example["summary"], r.text[:300])
            tried += 1
    assert tried >= 6


@pytest.mark.integration
def test_errors_and_media_types_are_documented(url):
    spec = httpx.get(url + "/openapi.json").json()
    generate = spec["paths"]["/generate"]["post"]["responses"]
    for status in ("400", "404", "413", "422", "503"):
        assert generate[status]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert "text/plain" in spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert spec["paths"]["/models"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["items"][
        "$ref"].endswith("/ModelCard")
    assert "/bench/constant.png" not in spec["paths"]


@pytest.mark.integration
@pytest.mark.parametrize("page,asset", [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")])
def test_docs_pages_load_their_scripts_from_the_app(url, page, asset):
    html = httpx.get(url + page).text
    scripts = re.findall(r'src="([^"]+)"', html) + re.findall(r'href="([^"]+\.css)"', html)
    assert scripts and all(s.startswith("/") for s in scripts), scripts  # nothing from a CDN
    assert any(s.endswith(asset) for s in scripts)
    for s in scripts:
        r = httpx.get(url + s)
        assert r.status_code == 200 and len(r.content) > 1000, s


OPERATIONS = {"generate", "sample_png", "list_models", "get_model", "model_onnx", "arithmetic", "interpolate", "sweep",
              "encode", "healthz", "readyz", "metrics", "reload_models", "reload_model"}
IMAGE_ROUTES = {"/generate": "GenerateResponse", "/latent/arithmetic": "ArithmeticResponse",
                "/latent/interpolate": "InterpolateResponse", "/infogan/sweep": "SweepResponse"}
BINARY = {"type": "string", "format": "binary"}


def document(**settings) -> dict:
    from app.main import create_app

    return create_app(shipped_settings(**settings)).openapi()


def operations(spec: dict):
    for path, ops in spec["paths"].items():
        for op in ops.values():
            yield path, op


def validator(spec: dict, schema: dict):
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema | {"components": spec["components"]})


@pytest.fixture(scope="module")
def keyed() -> dict:
    return document(api_keys=["k"], admin_keys=["a"])


@pytest.mark.unit
def test_every_operation_has_a_short_unique_name(keyed):
    ids = [op["operationId"] for _, op in operations(keyed)]
    assert len(ids) == len(set(ids)) and set(ids) == OPERATIONS


@pytest.mark.unit
def test_image_answers_are_binary_or_the_routes_json_model(keyed):
    for path, model in IMAGE_ROUTES.items():
        content = keyed["paths"][path]["post"]["responses"]["200"]["content"]
        assert list(content) == ["image/png", "application/json", "application/x-npy"], path  # PNG: the default
        assert content["image/png"]["schema"] == content["application/x-npy"]["schema"] == BINARY
        assert content["application/json"]["schema"] == {"$ref": f"#/components/schemas/{model}"}
    sample = keyed["paths"]["/models/{name}/sample.png"]["get"]["responses"]
    assert sample["200"]["content"] == {"image/png": {"schema": BINARY}} and "content" not in sample["304"]
    onnx = keyed["paths"]["/models/{name}/model.onnx"]["get"]["responses"]
    assert onnx["200"]["content"] == {"application/octet-stream": {"schema": BINARY}} and "content" not in onnx["304"]
    assert onnx["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    readyz = keyed["paths"]["/readyz"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert readyz == {"$ref": "#/components/schemas/Readiness"}
    encode = keyed["paths"]["/infogan/encode"]["post"]["requestBody"]
    assert encode["content"]["multipart/form-data"]["schema"] == {"$ref": "#/components/schemas/EncodeUpload"}
    assert keyed["components"]["schemas"]["EncodeUpload"]["properties"]["image"]["format"] == "binary"
    assert encode["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/EncodeRequest"}


@pytest.mark.unit
def test_n_states_the_image_cap():
    for cap in (256, 512):
        spec = document() if cap == 256 else document(max_images=cap)  # 256: the default of GAN_MAX_IMAGES
        n = next(p for p in spec["paths"]["/models/{name}/sample.png"]["get"]["parameters"] if p["name"] == "n")
        assert n["schema"]["maximum"] == cap and str(cap) in n["description"]
        assert spec["components"]["schemas"]["GenerateRequest"]["properties"]["n"]["maximum"] == cap


@pytest.mark.unit
def test_a_bearer_scheme_and_its_routes_when_keys_are_set(keyed):
    from app.middleware import OPEN_PATHS

    schemes = keyed["components"]["securitySchemes"]
    assert schemes["apiKey"]["type"] == schemes["adminKey"]["type"] == "http"
    assert schemes["apiKey"]["scheme"] == schemes["adminKey"]["scheme"] == "bearer"
    for path, op in operations(keyed):
        if path in OPEN_PATHS:
            assert "security" not in op and "401" not in op["responses"], path
        else:
            assert op["security"] == [{"adminKey" if path.startswith("/admin/") else "apiKey": []}], path
            assert "401" in op["responses"], path
    assert {"/healthz", "/readyz"} <= set(keyed["paths"]) & set(OPEN_PATHS)
    plain = document()
    assert "securitySchemes" not in plain["components"]
    assert not any("security" in op or "401" in op["responses"] for _, op in operations(plain))


@pytest.mark.unit
@pytest.mark.parametrize("model, body", [
    ("LatentRef", {"seed": 1}), ("LatentRef", {"z": [0.5], "seed": None}), ("LatentRef", {}),
    ("LatentRef", {"seed": 1, "z": [0.5]}), ("ArithmeticTerm", {"seeds": [1]}), ("ArithmeticTerm", {"weight": 2}),
    ("ArithmeticTerm", {"seeds": [1], "z": [0.5]}), ("GenerateRequest", {"model": "m", "seed": 1, "seeds": [2]}),
    ("GenerateRequest", {"model": "m", "seed": None, "seeds": [2]}), ("GenerateRequest", {"model": "m", "label": 1}),
    ("GenerateRequest", {"model": "m", "label": 1, "labels": [1]}),
])
def test_the_documented_one_of_rules_are_the_servers(keyed, model, body):
    from pydantic import ValidationError

    from app import schemas

    try:
        getattr(schemas, model).model_validate(body)
        accepted = True
    except ValidationError:
        accepted = False
    assert validator(keyed, {"$ref": f"#/components/schemas/{model}"}).is_valid(body) == accepted


JSON_ANSWERS = [
    ("/generate", {"model": "cgan-fashion", "labels": ["sneaker", 1], "n": 2, "seed": 4, "format": "json",
                   "return_latents": True}),
    ("/generate", {"model": "infogan-mnist", "n": 2, "category": 3, "codes": [0.5, -1], "format": "json"}),
    ("/generate", {"model": "gan-mnist", "seeds": [5, 9], "format": "json"}),
    ("/latent/arithmetic", {"model": "cgan-mnist", "label": 2, "terms": [{"seeds": [1, 2]}, {"seeds": [3],
                            "weight": -1}], "neighbors": 2, "format": "json"}),
    ("/latent/interpolate", {"model": "cgan-mnist", "start": {"seed": 5}, "end": {"seed": 6}, "steps": 3,
                             "format": "json"}),
    ("/latent/interpolate", {"model": "infogan-mnist", "start": {"seed": 1}, "end": {"z": [0.1] * 16}, "steps": 2,
                             "method": "lerp", "format": "json"}),
    ("/infogan/sweep", {"model": "infogan-mnist", "vary": 1, "steps": 3, "format": "json"}),
    ("/infogan/sweep", {"model": "infogan-mnist", "vary": "category", "rows": 1, "format": "json"}),
]


@pytest.mark.unit
@pytest.mark.parametrize("path, body", JSON_ANSWERS, ids=[f"{p}-{b['model']}" for p, b in JSON_ANSWERS])
def test_the_json_answers_are_what_the_document_says(shipped_client, path, body):
    """Every key of each answer documented, in its type (no extra keys: the answer models forbid them)."""
    spec = shipped_client.app.openapi()
    r = shipped_client.post(path, json=body)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json", r.text[:300]
    schema = spec["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    errors = [e.message for e in validator(spec, schema).iter_errors(r.json())]
    assert not errors, errors[:5]
