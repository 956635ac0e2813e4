"""Request ids and seeds: the right form, and a forked worker never repeats its parent's sequence."""

from __future__ import annotations

import os
import re

import pytest

from app.ids import new_request_id, new_seed

pytestmark = pytest.mark.unit


def test_request_ids_are_16_hex_digits_and_do_not_repeat() -> None:
    ids = [new_request_id() for _ in range(10_000)]
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_seeds_cover_the_31_bit_range() -> None:
    seeds = [new_seed() for _ in range(10_000)]
    assert all(0 <= s < 2**31 for s in seeds)
    assert max(seeds) > 2**30 and len(set(seeds)) > 9_990


def test_a_forked_child_draws_other_ids_and_seeds_than_its_parent() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next draws, then out at once (no pytest teardown in the child)
        os.write(write, f"{new_request_id()} {new_seed()}".encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 100).decode().split()
    os.waitpid(pid, 0)
    os.close(read)
    parent = [new_request_id(), str(new_seed())]
    assert child != parent and child[0] != parent[0]
