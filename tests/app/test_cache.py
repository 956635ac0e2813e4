"""Cache-friendly images: a seeded GET is immutable (strong ETag, 304), an unseeded one is never cached (nginx's
cache in front of the app: tests/deploy/test_nginx.py)."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import CHECKPOINTS
from tests.server import running_server

pytestmark = pytest.mark.integration

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
