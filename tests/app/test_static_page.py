"""The demo page's markup, read without a browser: checks that hold before Chromium ever runs it; and how the app
serves it in process (compression, caching, the page's Content-Security-Policy)."""

from __future__ import annotations

import gzip
import io
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.pages import PAGE_CSP
from tests.helpers import REPO_ROOT, shipped_settings

pytestmark = pytest.mark.unit

STATIC = REPO_ROOT / "app" / "static"


class Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.scripts: list[dict[str, str | None]] = []
        self.meta: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(found["id"])
        if tag == "script":
            self.scripts.append(found)
        if tag == "meta" and found.get("name"):
            self.meta[found["name"]] = found.get("content")


def page(html: str | None = None) -> Markup:
    markup = Markup()
    markup.feed(html if html is not None else (STATIC / "index.html").read_text())
    return markup


def test_the_script_runs_after_the_whole_page_is_parsed():
    """A parser-blocking script placed before the key dialog once met a 401 before the dialog existed:
    the page showed an error instead of asking for the key (seen in CI)."""
    scripts = page().scripts
    assert scripts and all(s.get("src") for s in scripts)
    assert all("defer" in s or s.get("type") == "module" for s in scripts), scripts


def test_every_element_the_script_looks_up_is_in_the_page():
    script = (STATIC / "app.js").read_text()
    wanted = set(re.findall(r"""\$\(\s*["']([\w-]+)["']\s*\)""", script))
    assert len(wanted) > 20
    assert wanted <= page().ids, sorted(wanted - page().ids)


def test_the_page_has_a_description_for_search_engines():
    description = page().meta.get("description") or ""
    assert 50 <= len(description) <= 160 and "GAN" in description, description


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(shipped_settings())) as c:
        yield c


GZIP = {"Accept-Encoding": "gzip"}
PLAIN = {"Accept-Encoding": "identity"}


def test_toy1d_json_comes_gzipped_to_a_client_that_accepts_it(client):
    raw = (STATIC / "toy1d.json").read_bytes()
    with client.stream("GET", "/static/toy1d.json", headers=GZIP) as r:
        sent = b"".join(r.iter_raw())
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in r.headers["vary"].lower()
    assert gzip.decompress(sent) == raw and len(sent) < len(raw) / 4, (len(sent), len(raw))
    assert r.headers["etag"].startswith('W/"')  # gzip bytes and plain bytes: two representations, a weak validator
    again = client.get("/static/toy1d.json", headers=GZIP | {"If-None-Match": r.headers["etag"]})
    # the 304 revalidates the weak tag; it carries the route's own (strong) form, as every 304 of the app does
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == r.headers["etag"][2:]
    plain = client.get("/static/toy1d.json", headers=PLAIN)
    assert "content-encoding" not in plain.headers and plain.content == raw
    assert plain.headers["etag"] == r.headers["etag"].removeprefix("W/")


def test_png_and_npy_from_generate_are_never_gzipped(client):
    for body, media_type in (({"model": "dcgan-mnist", "n": 16, "seed": 1, "scale": 4}, "image/png"),
                             ({"model": "dcgan-mnist", "n": 64, "seed": 1, "format": "npy"}, "application/x-npy")):
        with client.stream("POST", "/generate", json=body, headers=GZIP) as r:
            sent = b"".join(r.iter_raw())
        assert r.status_code == 200 and r.headers["content-type"] == media_type
        assert "content-encoding" not in r.headers and "vary" not in r.headers, r.headers
        assert len(sent) == int(r.headers["content-length"]) > 1024
    arrays = np.load(io.BytesIO(sent))
    assert arrays.shape[0] == 64
    seeded = client.get("/models/dcgan-mnist/sample.png?seed=3&n=16&scale=4", headers=GZIP)
    assert "content-encoding" not in seeded.headers and seeded.headers["etag"].startswith('"')


def test_json_answers_over_a_kilobyte_are_gzipped(client):
    r = client.post("/generate", json={"model": "dcgan-mnist", "n": 16, "seed": 1, "format": "json"}, headers=GZIP)
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip" and len(r.json()["images"]) == 16
    small = client.get("/healthz", headers=GZIP)
    assert small.status_code == 200 and "content-encoding" not in small.headers  # under 1 KB: not worth it


def test_the_page_links_its_script_and_stylesheet_by_version_and_they_are_cached_for_a_year(client):
    served = client.get("/").text
    links = re.findall(r'"(/static/(app\.js|style\.css)\?v=([0-9a-f]{12}))"', served)
    assert sorted(name for _, name, _ in links) == ["app.js", "style.css"], links
    for link, _, _ in links:
        r = client.get(link)
        assert r.status_code == 200 and r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["etag"] and r.headers["last-modified"]
    for name in ("app.js", "style.css", "toy1d.json", "favicon.svg"):
        r = client.get(f"/static/{name}")  # unversioned (or another version): an hour, then revalidated by ETag
        assert r.status_code == 200 and r.headers["cache-control"] == "public, max-age=3600", name
        stale = client.get(f"/static/{name}?v=000000000000")
        assert stale.headers["cache-control"] == "public, max-age=3600", name
        again = client.get(f"/static/{name}", headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and again.headers["cache-control"] == "public, max-age=3600", name
    assert client.get("/favicon.ico").headers["cache-control"] == "public, max-age=3600"


def test_the_page_sends_its_content_security_policy_and_is_revalidated_every_time(client):
    r = client.get("/", headers=PLAIN)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == PAGE_CSP
    assert "object-src 'none'" in PAGE_CSP and "frame-ancestors 'none'" in PAGE_CSP and "connect-src 'self'" in PAGE_CSP
    # scripts from the app alone; WebAssembly may compile (the browser runtime), JavaScript may not be eval'd
    directives = dict(d.strip().split(" ", 1) for d in PAGE_CSP.split(";"))
    assert directives["script-src"] == "'self' 'wasm-unsafe-eval'" and "unsafe-eval'" not in PAGE_CSP.replace(
        "'wasm-unsafe-eval'", "")
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-cache"
    served = page(r.text)
    assert served.meta.get("description") == page().meta["description"]
    assert served.ids == page().ids
    again = client.get("/", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.headers["content-security-policy"] == PAGE_CSP
    zipped = client.get("/", headers=GZIP)
    assert zipped.headers["content-encoding"] == "gzip" and zipped.text == r.text
    head = client.head("/")
    assert head.status_code == 200 and head.headers["content-security-policy"] == PAGE_CSP


def test_the_page_is_cross_origin_isolated_and_its_static_files_may_run_there(client):
    """COOP and COEP on the page, which loads nothing from elsewhere: the browser runtime's shared WebAssembly
    memory then comes without Chrome's SharedArrayBuffer warning. Its worker, a /static module, starts only with the
    same COEP."""
    r = client.get("/")
    assert r.headers["cross-origin-opener-policy"] == "same-origin"
    assert r.headers["cross-origin-embedder-policy"] == "require-corp"
    again = client.get("/", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.headers["cross-origin-embedder-policy"] == "require-corp"
    for name in ("app.js", "style.css", "toy1d.json"):
        assert client.get(f"/static/{name}").headers["cross-origin-embedder-policy"] == "require-corp", name
    assert "cross-origin-embedder-policy" not in client.get("/docs").headers  # Swagger UI is not isolated


ORT = STATIC / "ort"
needs_runtime = pytest.mark.skipif(not (ORT / "ort.wasm.min.mjs").is_file(), reason="no browser runtime in "
                                   "app/static/ort (scripts/install.sh copies it there with npm)")
RUNTIME_LINKS = {"runtime": "ort.wasm.min.mjs", "loader": "ort-wasm-simd-threaded.mjs",
                 "wasm": "ort-wasm-simd-threaded.wasm"}


def runtime_links(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-(runtime|loader|wasm)="([^"]*)"', html))


@needs_runtime
def test_the_browser_runtime_is_linked_by_version_and_served_as_javascript_and_webassembly(client):
    links = runtime_links(client.get("/").text)
    assert set(links) == set(RUNTIME_LINKS)
    for key, name in RUNTIME_LINKS.items():
        assert re.fullmatch(rf"/static/ort/{re.escape(name)}\?v=[0-9a-f]{{12}}", links[key]), links
        r = client.get(links[key], headers=PLAIN)
        assert r.status_code == 200 and r.content == (ORT / name).read_bytes()
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        wanted = "application/wasm" if name.endswith(".wasm") else "text/javascript; charset=utf-8"
        assert r.headers["content-type"] == wanted, name  # a module script and instantiateStreaming insist
    wasm = client.get(links["wasm"], headers=GZIP)  # 14 MB of WebAssembly, about a quarter of it sent
    assert wasm.headers["content-encoding"] == "gzip" and wasm.headers["content-type"] == "application/wasm"


def test_without_the_runtime_its_links_are_written_empty(monkeypatch, tmp_path):
    import app.pages

    for name in ("index.html", "app.js", "style.css"):
        (tmp_path / name).write_bytes((STATIC / name).read_bytes())
    monkeypatch.setattr(app.pages, "STATIC_DIR", tmp_path)  # a static folder as a checkout without npm has it
    html = app.pages.index_page().decode()
    assert runtime_links(html) == dict.fromkeys(RUNTIME_LINKS, "")
    assert re.search(r'"/static/app\.js\?v=[0-9a-f]{12}"', html)  # the others keep their versions
