"""Every route's seeded answers for every shipped model are byte for byte those of the table written before the
redesign of issue 23 (tests/app/seeded_answers.py says how the table is made)."""

from __future__ import annotations

import json

import pytest

from tests.app.seeded_answers import TABLE, answers

pytestmark = pytest.mark.unit


def test_seeded_answers_are_those_of_the_table(shipped_client):
    expected = json.loads(TABLE.read_text())
    got = answers(shipped_client)
    assert set(got) == set(expected)
    changed = sorted(case for case in expected if got[case] != expected[case])
    assert not changed, f"{len(changed)} of {len(expected)} answers changed: {changed[:20]}"
