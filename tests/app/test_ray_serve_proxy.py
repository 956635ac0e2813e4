"""The kill test behind Ray's Python proxy (GAN_RAY_HIGH_THROUGHPUT=false): a module of its own, so that its Ray
cluster runs alone (tests/app/test_ray_serve.py's, in HAProxy mode, is down by then: replicas are found by their
process titles)."""

from __future__ import annotations

import pytest

pytest.importorskip("ray.serve")

from tests.app.test_ray_serve import RAY, assert_recovers, kill_a_replica_under_load  # noqa: E402
from tests.server import server_process, wait_for_replicas  # noqa: E402

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ray_proxy_url(tmp_path_factory):
    """The same two replicas behind Ray's Python proxy (GAN_RAY_HIGH_THROUGHPUT=false), for the strictest kill test."""
    log = tmp_path_factory.mktemp("ray-proxy") / "serve.log"
    env = {"RAY_ADDRESS": "", "GAN_RAY_HIGH_THROUGHPUT": "false"}
    with server_process(env, argv=RAY, timeout=240, log_path=log, stop_timeout=60) as (url, _):
        wait_for_replicas(url, 2, timeout=240)
        yield url


def test_behind_rays_proxy_killing_a_replica_loses_only_its_requests_in_flight(ray_proxy_url):
    killed_at, results, before = kill_a_replica_under_load(ray_proxy_url)
    failed = [r for r in results if r[2] != 200]
    # Only requests already running when the replica died may fail: started before the kill, ended after it.
    # There were 4 clients, so at most 4 requests were in flight anywhere.
    assert len(failed) <= 4, failed
    assert all(s < killed_at < e for s, e, _ in failed), (killed_at, failed)
    assert_recovers(ray_proxy_url, killed_at, before)
