"""Two costs of serving measured in isolation (docs/benchmarks.md, fifth round), each in a fresh process:

    python -m bench.runtime_bench

1. One seed's latents (``G.latents_for_seeds([seed])``, what every single-image request
   draws on the event loop), microseconds, for each shipped MNIST generator.
2. A 256-image forward pass of InfoGAN and DCGAN (channels-last, two threads), milliseconds and minor page faults
   per pass, with glibc's defaults and with ``models.runtime.keep_freed_memory`` (GAN_KEEP_FREED_MEMORY).
"""

from __future__ import annotations

import subprocess
import sys

from models.files import REPO_ROOT

LATENTS = """
import timeit, torch
from models import Generator
from models.checkpoint import load_checkpoint
from models.files import REPO_ROOT
torch.set_num_threads(1)
for name in ("gan-mnist", "dcgan-mnist", "cgan-mnist", "infogan-mnist"):
    G, _ = load_checkpoint(REPO_ROOT / "checkpoints" / name, expected_class=Generator)
    n = 20000
    seconds = min(timeit.repeat(lambda: G.latents_for_seeds([5]), number=n, repeat=3)) / n
    print(f"{name}: one seed's latents {seconds * 1e6:.1f} us")
"""

FORWARD = """
import resource, sys, time, torch
from models import Generator
from models.checkpoint import load_checkpoint
from models.files import REPO_ROOT
from models.runtime import keep_freed_memory
if sys.argv[1] == "kept":
    assert keep_freed_memory()
torch.set_num_threads(2)
for name, k in (("infogan-mnist", 15), ("dcgan-mnist", 5)):
    G, _ = load_checkpoint(REPO_ROOT / "checkpoints" / name, expected_class=Generator)
    G = G.to(memory_format=torch.channels_last)
    latents = G.latents_for_seeds(range(256))
    with torch.inference_mode():
        G(latents)  # first pass: the heap grows once either way
        faults, start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
        for _ in range(k):
            G(latents)
    ms = (time.perf_counter() - start) / k * 1000
    per = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / k
    print(f"{name}, 256 images, glibc {sys.argv[1]}: {ms:.1f} ms a pass, {per:.0f} minor page faults a pass")
"""


def main() -> None:
    run = lambda code, *args: subprocess.run([sys.executable, "-c", code, *args], cwd=REPO_ROOT,  # noqa: E731
                                             check=True)
    run(LATENTS)
    for mode in ("defaults", "kept", "defaults", "kept"):  # twice each, alternating: the machine drifts
        run(FORWARD, mode)


if __name__ == "__main__":
    main()
