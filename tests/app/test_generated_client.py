"""A client generated from /openapi.json by openapi-python-client (the pinned one, as a new user would run it) calls
every route of a real server with API keys on: typed JSON answers, PNG bytes, the bearer scheme (issue 27).

openapi-python-client reads one media type per status code, the first it knows (application/json; image/png and
application/x-npy it does not read), so a generated image route parses its 200 as the route's JSON answer model:
those routes are called with format json, and for PNG or npy the generated module's request is sent through the
generated client and its bytes read (``raw``). GET sample.png's 200 is a PNG alone: generated without a parsed
answer (the one warning of the generation), its bytes are the answer's ``content``."""

from __future__ import annotations

import base64
import importlib
import io
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import httpx
import pytest

from tests.helpers import CHECKPOINTS, shipped_settings
from tests.server import running_server

pytestmark = pytest.mark.integration

API_KEY, ADMIN_KEY = "generated-client-key", "generated-admin-key"
PACKAGE = "gan_studio_client"
PNG, NPY = b"\x89PNG\r\n\x1a\n", b"\x93NUMPY"


@pytest.fixture(scope="module")
def gen(tmp_path_factory) -> SimpleNamespace:
    """The generated package, every module of it imported: ``gen.api.generate.generate``, ``gen.models``..."""
    from app.main import create_app

    root = tmp_path_factory.mktemp("generated")
    spec = create_app(shipped_settings(api_keys=[API_KEY], admin_keys=[ADMIN_KEY])).openapi()
    (root / "openapi.json").write_text(json.dumps(spec))
    bin_dir = Path(sys.executable).parent  # the generator and the ruff its post-hooks run
    run = subprocess.run(
        [str(bin_dir / "openapi-python-client"), "generate", "--path", "openapi.json", "--output-path", PACKAGE,
         "--meta", "none"],
        cwd=root, capture_output=True, text=True, timeout=300,
        env=os.environ | {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    assert out.count("WARNING parsing") == 1 and "GET /models/{name}/sample.png" in out, out[-4000:]
    sys.path.insert(0, str(root))
    try:
        package = importlib.import_module(PACKAGE)
        modules = {info.name: importlib.import_module(info.name)  # each one imports (no NameError)
                   for info in pkgutil.walk_packages(package.__path__, PACKAGE + ".")}
    finally:
        sys.path.remove(str(root))
    yield SimpleNamespace(package=package, modules=modules, api=package.api, models=importlib.import_module(
        PACKAGE + ".models"), File=importlib.import_module(PACKAGE + ".types").File)
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]


@pytest.fixture(scope="module")
def url():
    env = {"GAN_CHECKPOINT_DIR": CHECKPOINTS, "GAN_API_KEYS": API_KEY, "GAN_ADMIN_KEYS": ADMIN_KEY}
    with running_server(env) as base:
        yield base


@pytest.fixture(scope="module")
def client(gen, url):
    # raise_on_unexpected_status stays off (the default): with it, sample.png's 200 (not parsed) would raise
    with gen.package.AuthenticatedClient(base_url=url, token=API_KEY, timeout=httpx.Timeout(30)) as c:
        yield c


def op(gen, tag: str, name: str) -> ModuleType:
    return gen.modules[f"{PACKAGE}.api.{tag}.{name}"]


def raw(client, module: ModuleType, **kwargs) -> httpx.Response:
    """The generated module's request, sent by the generated client, its answer unparsed (for PNG and npy)."""
    return client.get_httpx_client().request(**module._get_kwargs(**kwargs))


def test_every_operation_has_its_module(gen):
    names = {n.rsplit(".", 1)[1] for n in gen.modules if ".api." in n and not n.endswith("__init__")}
    assert {"generate", "sample_png", "list_models", "get_model", "model_onnx", "arithmetic", "interpolate", "sweep",
            "encode", "healthz", "readyz", "metrics", "reload_models", "reload_model"} <= names


def test_health_and_readiness_need_no_key(gen, url):
    with gen.package.Client(base_url=url, timeout=httpx.Timeout(30), raise_on_unexpected_status=True) as open_client:
        assert op(gen, "health", "healthz").sync(client=open_client).status == "ok"
        ready = op(gen, "health", "readyz").sync(client=open_client)
        assert isinstance(ready, gen.models.Readiness) and ready.ready and "infogan-mnist" in ready.models


def test_a_wrong_key_gets_a_typed_401(gen, url):
    with gen.package.AuthenticatedClient(base_url=url, token="not-a-key", timeout=httpx.Timeout(30)) as wrong:
        answer = op(gen, "models", "list_models").sync_detailed(client=wrong)
    assert answer.status_code == 401 and isinstance(answer.parsed, gen.models.ErrorResponse)
    assert answer.parsed.detail[0].type_ == "unauthorized"


def test_models_and_metrics(gen, client):
    cards = op(gen, "models", "list_models").sync(client=client)
    assert {"gan-mnist", "dcgan-mnist", "cgan-mnist", "infogan-mnist"} <= {c.name for c in cards}
    assert all(isinstance(c, gen.models.ModelCard) for c in cards)
    card = op(gen, "models", "get_model").sync("infogan-mnist", client=client)
    assert card.num_categories == 10 and card.num_continuous == 2 and card.encoder is True
    assert "gan_http_requests_total" in op(gen, "health", "metrics").sync(client=client)
    onnx = op(gen, "models", "model_onnx").sync_detailed("cgan-mnist", client=client)
    assert onnx.status_code == 200 and isinstance(onnx.parsed, gen.File)  # octet-stream: a File of the bytes
    assert onnx.parsed.payload.read() == onnx.content and len(onnx.content) > 100_000 and onnx.headers["etag"]


def test_generate_as_json_png_and_npy(gen, client):
    m, generate = gen.models, op(gen, "generate", "generate")
    answer = generate.sync(client=client, body=m.GenerateRequest(
        model="cgan-mnist", n=2, seed=3, label=7, format_=m.GenerateRequestFormat.JSON, return_latents=True))
    assert isinstance(answer, m.GenerateResponse) and answer.model == "cgan-mnist" and answer.seed == 3
    assert [(i.seed, i.label) for i in answer.images] == [(3, 7), (4, 7)]
    assert all(isinstance(i, m.GeneratedImage) and len(i.z) > 0 for i in answer.images)
    assert base64.b64decode(answer.images[0].png).startswith(PNG)
    png = raw(client, generate, body=m.GenerateRequest(model="cgan-mnist", n=2, seed=3, label=7))
    assert png.status_code == 200 and png.headers["content-type"] == "image/png" and png.content.startswith(PNG)
    npy = raw(client, generate, body=m.GenerateRequest(model="dcgan-mnist", seed=1,
                                                       format_=m.GenerateRequestFormat.NPY))
    assert npy.status_code == 200 and npy.content.startswith(NPY) and npy.headers["x-shape"] == "1,28,28,1"


def test_sample_png_is_the_answers_bytes(gen, client):
    answer = op(gen, "generate", "sample_png").sync_detailed("cgan-mnist", client=client, seed=5, n=2, label="7")
    assert answer.status_code == 200 and answer.content.startswith(PNG) and answer.headers["etag"]


def test_latent_routes(gen, client):
    m = gen.models
    arithmetic = op(gen, "latent", "arithmetic").sync(client=client, body=m.ArithmeticRequest(
        model="dcgan-mnist", terms=[m.ArithmeticTerm(seeds=[1, 2]), m.ArithmeticTerm(seeds=[3], weight=-1.0)],
        neighbors=1, format_=m.ArithmeticRequestFormat.JSON))
    assert isinstance(arithmetic, m.ArithmeticResponse) and [t.weight for t in arithmetic.terms] == [1.0, -1.0]
    assert [i.kind for i in arithmetic.images] == [m.ArithmeticImageKind.RESULT, m.ArithmeticImageKind.NEIGHBOR]
    walk = op(gen, "latent", "interpolate").sync(client=client, body=m.InterpolateRequest(
        model="cgan-mnist", start=m.LatentRef(seed=1), end=m.LatentRef(seed=2), steps=3,
        format_=m.InterpolateRequestFormat.JSON))
    assert isinstance(walk, m.InterpolateResponse) and [i.t for i in walk.images] == [0.0, 0.5, 1.0]
    grid = raw(client, op(gen, "latent", "interpolate"), body=m.InterpolateRequest(
        model="cgan-mnist", start=m.LatentRef(seed=1), end=m.LatentRef(seed=2), steps=3))
    assert grid.status_code == 200 and grid.content.startswith(PNG)


def test_infogan_routes(gen, client):
    m = gen.models
    sweep = op(gen, "infogan", "sweep").sync(client=client, body=m.SweepRequest(
        model="infogan-mnist", vary=0, steps=3, format_=m.SweepRequestFormat.JSON))
    assert isinstance(sweep, m.SweepResponse) and sweep.vary == 0 and sweep.columns == 3
    assert len(sweep.images) == sweep.rows * sweep.columns and sweep.values == [-2.0, 0.0, 2.0]
    digit = op(gen, "generate", "sample_png").sync_detailed("infogan-mnist", client=client, seed=2, category=4)
    assert digit.status_code == 200
    encode = op(gen, "infogan", "encode")
    as_json = encode.sync(client=client, body=m.EncodeRequest(
        model="infogan-mnist", image=base64.b64encode(digit.content).decode()))
    upload = encode.sync(client=client, body=m.EncodeUpload(model="infogan-mnist", image=gen.File(
        payload=io.BytesIO(digit.content), file_name="digit.png", mime_type="image/png")))
    assert isinstance(as_json, m.Encoding) and isinstance(upload, m.Encoding)
    assert (as_json.category, as_json.codes) == (upload.category, upload.codes)  # one image, sent two ways
    assert len(as_json.probabilities) == 10 and len(as_json.codes) == 2 and base64.b64decode(as_json.seen)[:8] == PNG


def test_admin_routes_take_the_admin_key(gen, url):
    with gen.package.AuthenticatedClient(base_url=url, token=ADMIN_KEY, timeout=httpx.Timeout(30),
                                         raise_on_unexpected_status=True) as admin:
        report = op(gen, "admin", "reload_models").sync(client=admin)
        assert isinstance(report, gen.models.ReloadReport) and "cgan-mnist" in report.unchanged
        one = op(gen, "admin", "reload_model").sync("cgan-mnist", client=admin)
        assert isinstance(one, gen.models.ReloadReport) and "cgan-mnist" in one.unchanged
