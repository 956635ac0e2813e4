"""The OpenAPI is the contract: fuzzed against the running server, usable as documentation, offline."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.helpers import CHECKPOINTS
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
