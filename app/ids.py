"""Fresh request ids and seeds, from a Mersenne Twister seeded by the OS at start and again in every forked child
(two workers never share a sequence). Neither is a secret: a request id names a request in the logs, a seed is
told to the client in ``X-Seed``. ``secrets`` read the OS's random source with a system call for each of them, two
per request on the event loop.

    request_id = new_request_id()   # 16 hex digits
    seed = new_seed()               # in [0, 2**31)
"""

from __future__ import annotations

import os
import random

_random = random.Random()
os.register_at_fork(after_in_child=_random.seed)


def new_request_id() -> str:
    return f"{_random.getrandbits(64):016x}"


def new_seed() -> int:
    return _random.getrandbits(31)
