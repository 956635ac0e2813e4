"""deploy/nginx/gan-studio.conf, the production nginx configuration, in front of a real server: seeded images
cached (a repeated read never reaches the app), unseeded ones not, the app's answers and errors passed on as they
are, nginx's own errors in the API's shape, the request id carried through."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import REPO_ROOT
from tests.server import free_port, running_server

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not os.path.exists(NGINX), reason="Debian's nginx is not installed (apt-get install "
                                 "nginx)")]
SAMPLE = "/models/cgan-mnist/sample.png?seed=4242&label=7&n=4&scale=2"
MAIN_CONF = """
worker_processes 1;
daemon off;
user root;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/gan-studio.conf;
}}
"""


def site_conf(port: int, upstream: str, cache: Path) -> str:
    """The shipped file with this run's port, upstream and cache folder: the three lines a deployment sets."""
    text = (REPO_ROOT / "deploy" / "nginx" / "gan-studio.conf").read_text()
    for old, new in (("listen 80;", f"listen 127.0.0.1:{port};"), ("server 127.0.0.1:8000;", f"server {upstream};"),
                     ("/var/cache/nginx/gan-studio", str(cache))):
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def app_url():
    with running_server() as url:
        yield url


@pytest.fixture(scope="module")
def proxy(app_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nginx")
    port = free_port()
    (tmp / "gan-studio.conf").write_text(site_conf(port, app_url.removeprefix("http://"), tmp / "cache"))
    (tmp / "nginx.conf").write_text(MAIN_CONF.format(tmp=tmp))
    nginx = subprocess.Popen([NGINX, "-c", str(tmp / "nginx.conf"), "-p", str(tmp)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and nginx.poll() is None, nginx.stderr.read()
                time.sleep(0.1)
        yield url
    finally:
        nginx.terminate()
        nginx.wait(10)


def images_generated(url: str) -> float:
    lines = httpx.get(url + "/metrics").text.splitlines()
    return sum(float(line.split()[-1]) for line in lines if line.startswith("gan_images_generated_total{"))


def test_seeded_images_are_cached_and_unseeded_ones_are_not(proxy, app_url):
    before = images_generated(app_url)
    first = httpx.get(proxy + SAMPLE)
    assert first.status_code == 200 and first.headers["x-cache-status"] == "MISS"
    assert images_generated(app_url) == before + 4
    second = httpx.get(proxy + SAMPLE)
    assert second.headers["x-cache-status"] == "HIT" and second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert images_generated(app_url) == before + 4  # the second read never reached the app
    unseeded = "/models/cgan-mnist/sample.png?label=7&n=4"
    httpx.get(proxy + unseeded)
    assert httpx.get(proxy + unseeded).headers["x-cache-status"] != "HIT"  # no-store: not cached


def test_the_apps_answers_and_errors_pass_as_they_are(proxy, app_url):
    body = {"model": "dcgan-mnist", "seed": 3, "n": 2}
    assert httpx.post(proxy + "/generate", json=body).content == httpx.post(app_url + "/generate", json=body).content
    unknown = httpx.post(proxy + "/generate", json={"model": "nope"})
    assert unknown.status_code == 404 and unknown.json() == httpx.post(app_url + "/generate",
                                                                      json={"model": "nope"}).json()
    given = httpx.get(proxy + "/healthz", headers={"X-Request-ID": "from-the-client-1"})
    assert given.headers["x-request-id"] == "from-the-client-1"
    made = httpx.get(proxy + "/healthz").headers["x-request-id"]
    assert len(made) == 32 and made != "from-the-client-1"  # nginx's own id, carried to the app and back


def test_nginx_answers_its_own_errors_in_the_apis_shape(proxy):
    big = httpx.post(proxy + "/generate", content=b"x" * 300_000, headers={"Content-Type": "application/json"})
    assert big.status_code == 413 and big.headers["content-type"] == "application/json"
    assert big.json()["detail"][0]["type"] == "too_large" and "256 KB" in big.json()["detail"][0]["msg"]
    huge = httpx.get(proxy + "/healthz", headers={"X-Padding": "y" * 70_000})
    assert huge.status_code == 431 and huge.json()["detail"][0]["type"] == "too_large"
