"""Cache-friendly images: a seeded GET is immutable (strong ETag, 304), an unseeded one is never cached, and a real
nginx with proxy_cache in front answers repeated reads without reaching the app."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import httpx
import pytest

from tests.helpers import CHECKPOINTS
from tests.server import free_port, running_server

SAMPLE = "/models/cgan-mnist/sample.png?seed=42&label=7&n=4&scale=2"


@pytest.fixture(scope="module")
def url():
    with running_server({"GAN_CHECKPOINT_DIR": CHECKPOINTS}) as base:
        yield base


def images_generated(url: str) -> float:
    lines = httpx.get(url + "/metrics").text.splitlines()
    return sum(float(line.split()[-1]) for line in lines if line.startswith("gan_images_generated_total{"))


def test_a_seeded_image_is_immutable_and_revalidates_without_generating(url):
    first = httpx.get(url + SAMPLE)
    etag = first.headers["etag"]
    assert first.status_code == 200 and etag.startswith('"') and len(etag) == 34
    assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert httpx.get(url + SAMPLE).headers["etag"] == etag  # the same parameters, the same tag
    before = images_generated(url)
    for given in (etag, f'"other", W/{etag}', "*"):
        again = httpx.get(url + SAMPLE, headers={"If-None-Match": given})
        assert again.status_code == 304 and not again.content and again.headers["etag"] == etag
    assert images_generated(url) == before  # no image was generated for the 304s
    assert httpx.get(url + SAMPLE, headers={"If-None-Match": '"stale"'}).status_code == 200


def test_the_tag_changes_with_every_parameter_and_unseeded_images_are_not_cached(url):
    tags = {httpx.get(url + path).headers["etag"] for path in (
        SAMPLE, SAMPLE.replace("seed=42", "seed=43"), SAMPLE.replace("label=7", "label=1"), SAMPLE + "&columns=2",
        SAMPLE.replace("scale=2", "scale=3"), "/models/dcgan-mnist/sample.png?seed=42&n=4&scale=2")}
    assert len(tags) == 6
    unseeded = httpx.get(url + "/models/cgan-mnist/sample.png?label=7")
    assert unseeded.headers["cache-control"] == "no-store" and "etag" not in unseeded.headers
    error = httpx.get(url + "/models/cgan-mnist/sample.png?seed=1&label=70")
    assert error.status_code == 422 and "immutable" not in error.headers.get("cache-control", "")


NGINX_CONF = """
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
    proxy_cache_path {tmp}/cache keys_zone=images:1m;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass {upstream};
            proxy_cache images;
            add_header X-Cache-Status $upstream_cache_status;
        }}
    }}
}}
"""


@pytest.mark.skipif(not shutil.which("nginx") and not os.path.exists("/usr/sbin/nginx"),
                    reason="Debian's nginx is not installed (apt-get install nginx)")
def test_nginx_proxy_cache_absorbs_repeated_reads(url, tmp_path):
    port = free_port()
    (tmp_path / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp_path, port=port, upstream=url))
    nginx = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-c", str(tmp_path / "nginx.conf"),
                              "-p", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    proxy = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(proxy + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and nginx.poll() is None, nginx.stderr.read()
                time.sleep(0.1)
        path = SAMPLE.replace("seed=42", "seed=4242")
        before = images_generated(url)
        first = httpx.get(proxy + path)
        assert first.status_code == 200 and first.headers["x-cache-status"] == "MISS"
        after_first = images_generated(url)
        assert after_first == before + 4
        second = httpx.get(proxy + path)
        assert second.headers["x-cache-status"] == "HIT" and second.content == first.content
        assert images_generated(url) == after_first  # the second read never reached the app
        unseeded = "/models/cgan-mnist/sample.png?label=7&n=4"
        httpx.get(proxy + unseeded)
        assert httpx.get(proxy + unseeded).headers["x-cache-status"] != "HIT"  # no-store: not cached
    finally:
        nginx.terminate()
        nginx.wait(10)
