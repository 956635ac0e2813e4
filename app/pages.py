"""The page and the API's documentation, none of it in the OpenAPI document: the demo page at / (index.html with
versioned /static links, its own CSP, cross-origin isolated, revalidated every time), /static (cached a year when
``?v=`` is the file's version, an hour otherwise; the browser runtime in /static/ort when scripts/install.sh could
install it), /favicon.ico, and Swagger UI at /docs and ReDoc at /redoc, served from /docs-assets so that they work
offline:

    install_pages(app)   # in create_app: the two mounts, then the page and docs routes
"""

from __future__ import annotations

import hashlib
import os
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent / "static"


def docs_assets() -> Path:
    """Swagger UI and ReDoc, from the pinned fastapi-offline package: /docs and /redoc work offline."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).resolve().parent / "static"


# 'wasm-unsafe-eval' lets the page compile WebAssembly (onnxruntime-web, from /static/ort), and nothing else: no eval.
PAGE_CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "
            "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
# The docs pages may load nothing from outside the app (ReDoc's footer asks a CDN for a logo: refused).
DOCS_CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-inline' blob:; worker-src 'self' blob:; font-src 'self' data:")
# Cross-origin isolation for the page: it loads nothing from elsewhere, so require-corp costs nothing, and the browser
# runtime's WebAssembly memory (shared, as its threaded build declares it) is then made without Chrome's warning that
# SharedArrayBuffer requires isolation. Its worker (a /static module) must send the same embedder policy to start.
ISOLATION = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"}
# /static/NAME?v=VERSION names one file's content for ever; anything else there may be an hour old, then revalidates.
VERSIONED_CACHE = "public, max-age=31536000, immutable"
STATIC_CACHE = "public, max-age=3600"
STATIC_LINK = re.compile(r'(?<=")/static/((?:[\w-][\w.-]*/)?[\w-][\w.-]*)(?=")')  # a file or one folder down
# What a module script and WebAssembly's streaming compile insist on, whatever the system's MIME table says.
MEDIA_TYPES = {".mjs": "text/javascript; charset=utf-8", ".wasm": "application/wasm"}


@lru_cache(maxsize=64)
def _content_version(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def asset_version(path: Path, stat: os.stat_result | None = None) -> str:
    """The first 12 hex digits of the file's sha256, hashed again only when its mtime or size changes."""
    stat = stat or path.stat()
    return _content_version(str(path), stat.st_mtime_ns, stat.st_size)


def index_page() -> bytes:
    """index.html with each /static/NAME it links written /static/NAME?v=VERSION: a deploy changes the URL. A link to
    a file that is not there (the browser runtime where install.sh found no npm) is written empty: the page knows
    without asking."""
    def versioned(link: re.Match[str]) -> str:
        target = STATIC_DIR / link[1]
        return f"{link[0]}?v={asset_version(target)}" if target.is_file() else ""

    return STATIC_LINK.sub(versioned, (STATIC_DIR / "index.html").read_text()).encode()


class StaticAssets(StaticFiles):
    """StaticFiles (ETag, Last-Modified, 304s) with a Cache-Control: a year when ``?v=`` is the file's version; .mjs
    and .wasm with the types a browser needs to run them; the page's embedder policy, which its workers need."""

    def file_response(self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        if media_type := MEDIA_TYPES.get(Path(full_path).suffix):
            response.headers["Content-Type"] = media_type
        asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("v")
        current = asked == [asset_version(Path(full_path), stat_result)]
        response.headers["Cache-Control"] = VERSIONED_CACHE if current else STATIC_CACHE
        response.headers["Cross-Origin-Embedder-Policy"] = ISOLATION["Cross-Origin-Embedder-Policy"]
        return response


async def index(request: Request) -> Response:
    # The page keeps an API key in the browser: nothing may load from elsewhere, no page may frame it.
    # no-cache: the browser revalidates the page every time, so a deploy's new ?v= links reach it at once.
    page = index_page()
    etag = f'"{hashlib.sha256(page).hexdigest()[:16]}"'
    headers = {"Content-Security-Policy": PAGE_CSP, "X-Frame-Options": "DENY", "Cache-Control": "no-cache",
               "ETag": etag, **ISOLATION}
    given = request.headers.get("if-none-match", "")
    if etag in (t.strip().removeprefix("W/") for t in given.split(",")):
        return Response(status_code=304, headers=headers)
    return HTMLResponse(page, headers=headers)


async def favicon() -> FileResponse:
    return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml",
                        headers={"Cache-Control": STATIC_CACHE})


async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    page = get_swagger_ui_html(openapi_url=f"{root}/openapi.json", title="GAN Studio - API",
                               swagger_js_url=f"{root}/docs-assets/swagger-ui-bundle.js",
                               swagger_css_url=f"{root}/docs-assets/swagger-ui.css",
                               swagger_favicon_url=f"{root}/favicon.ico")
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page


async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    page = get_redoc_html(openapi_url=f"{root}/openapi.json", title="GAN Studio - API",
                          redoc_js_url=f"{root}/docs-assets/redoc.standalone.js",
                          redoc_favicon_url=f"{root}/favicon.ico", with_google_fonts=False)
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page


def install_pages(app: FastAPI) -> None:
    """Mount /static and /docs-assets and add the page and docs routes, after the API's routes."""
    app.mount("/static", StaticAssets(directory=STATIC_DIR), name="static")
    app.mount("/docs-assets", StaticFiles(directory=docs_assets()), name="docs-assets")
    for path, endpoint, methods in (("/", index, ("HEAD", "GET")), ("/favicon.ico", favicon, ("GET",)),
                                    ("/docs", swagger_ui, ("HEAD", "GET")), ("/redoc", redoc, ("GET",))):
        for method in methods:  # one route per method, as stacked @app.head/@app.get make them
            app.add_api_route(path, endpoint, methods=[method], include_in_schema=False)
