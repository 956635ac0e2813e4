"""Validation against a model returns resolved values and leaves the request as it was; its errors point at the
field that is wrong (issue 23's bugs: an out-of-range entry of ``labels``, and the seeded GET's ETag taken before
the label was resolved)."""

from __future__ import annotations

import pytest

from app.schemas import GenerateRequest
from app.validation import Conditions, resolve_conditions

pytestmark = pytest.mark.unit


def test_resolving_a_label_by_name_leaves_the_request_as_it_was(shipped_client):
    registry = shipped_client.app.state.service.registry
    req = GenerateRequest(model="cgan-fashion", label="Sneaker", n=2)
    assert resolve_conditions(registry.get("cgan-fashion"), req) == Conditions(labels=7)
    assert req.label == "Sneaker"  # not rewritten to its index
    per_row = GenerateRequest(model="cgan-fashion", labels=["bag", 3], n=2)
    assert resolve_conditions(registry.get("cgan-fashion"), per_row, per_row.labels).labels == (8, 3)
    assert per_row.labels == ["bag", 3]


def test_an_out_of_range_entry_of_labels_is_reported_at_its_index(shipped_client):
    r = shipped_client.post("/generate", json={"model": "cgan-mnist", "n": 3, "labels": [1, 2, 12]})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "labels", 2], r.json()
    assert "between 0 and 9, got 12" in r.json()["detail"][0]["msg"]
    named = shipped_client.post("/generate", json={"model": "cgan-fashion", "n": 2, "labels": ["bag", "hat"]})
    assert named.status_code == 422 and named.json()["detail"][0]["loc"] == ["body", "labels", 1]


def test_one_label_written_three_ways_has_one_etag(shipped_client):
    def etag(model: str, label: str) -> str:
        r = shipped_client.get(f"/models/{model}/sample.png", params={"seed": 4, "n": 2, "label": label})
        assert r.status_code == 200, r.text
        return r.headers["etag"]

    assert etag("cgan-mnist", "7") == etag("cgan-mnist", "07") == etag("cgan-mnist", " 7")
    assert etag("cgan-fashion", "7") == etag("cgan-fashion", "sneaker") == etag("cgan-fashion", "Sneaker")
    assert etag("cgan-mnist", "7") != etag("cgan-mnist", "8")  # and different labels keep different ETags
    first = shipped_client.get("/models/cgan-fashion/sample.png", params={"seed": 4, "n": 2, "label": "sneaker"})
    again = shipped_client.get("/models/cgan-fashion/sample.png", params={"seed": 4, "n": 2, "label": "7"},
                               headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304  # the same image, revalidated by either name
