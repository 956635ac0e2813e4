"""Costs of serving measured in isolation (docs/benchmarks.md, fifth round), each in a fresh process:

    python -m bench.runtime_bench                 # 1 and 2
    python -m bench.runtime_bench --backends      # 3 (needs pip install 'gan-studio[onnx]')
    python -m bench.runtime_bench --precisions    # 4

1. One seed's latents (``G.latents_for_seeds([seed])``, what every single-image request
   draws on the event loop), microseconds, for each shipped MNIST generator.
2. A 256-image forward pass of InfoGAN and DCGAN (channels-last, two threads), milliseconds and minor page faults
   per pass, with glibc's defaults and with ``models.runtime.keep_freed_memory`` (GAN_KEEP_FREED_MEMORY).
3. The service's forward (latents to uint8 pixels, on its torch thread) with GAN_BACKEND=torch and onnxruntime,
   microseconds per image at batch 1 and 256, for each MNIST generator: each point the best of ``--rounds``
   measurements of ``--seconds``, the two backends in turns.
4. The service's torch forward in float32, bfloat16 and float16 (GAN_PRECISION), on one torch thread, microseconds
   per image at batch 1, 16 and 64, for each MNIST generator, the precisions in turns: whether this CPU does the
   lower precisions natively (AVX-512 BF16 or AMX for bfloat16) or emulates them.
"""

from __future__ import annotations

import argparse
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

BACKENDS = """
import sys, time
from app.config import Settings
from app.runner import Runner
from bench.serving import machine
from models import Generator
from models.checkpoint import load_checkpoint
from models.files import REPO_ROOT
seconds, rounds = float(sys.argv[1]), int(sys.argv[2])
runners = {backend: Runner(Settings(backend=backend)) for backend in ("torch", "onnxruntime")}

def per_image(forward, latents):
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or done == 0:
        forward(latents)
        done += 1
    return (time.perf_counter() - start) / (done * len(latents))

threads = runners["torch"].settings.threads_from_rows or "16 or 64 (measured per model)"
print(f"{machine('cpu')}; ONNX Runtime with {runners['onnxruntime'].cpus} intra-op threads, torch with the service's "
      f"(1 below {threads} images, then {runners['torch'].cpus})")
print("| model | batch | torch us/image | ONNX Runtime us/image | ONNX Runtime / torch |")
print("|---|---:|---:|---:|---:|")
for name in ("gan-mnist", "dcgan-mnist", "cgan-mnist", "infogan-mnist"):
    G, _ = load_checkpoint(REPO_ROOT / "checkpoints" / name, expected_class=Generator)
    forwards = {backend: runner.forward_fn(G) for backend, runner in runners.items()}
    for backend, runner in runners.items():
        runner.warm_up(name, G, forwards[backend])
    for n in (1, 256):
        latents = G.latents_for_seeds(range(n))
        best = dict.fromkeys(runners, float("inf"))
        for _ in range(rounds):  # in turns: the machine's drift falls on both alike
            for backend, runner in runners.items():  # on each runner's torch thread, as the service runs batches
                took = runner.executor.submit(per_image, forwards[backend], latents).result()
                best[backend] = min(best[backend], took)
        torch_us, onnx_us = best["torch"] * 1e6, best["onnxruntime"] * 1e6
        print(f"| {name} | {n} | {torch_us:.1f} | {onnx_us:.1f} | {onnx_us / torch_us:.2f} |", flush=True)
for runner in runners.values():
    runner.stop()
"""

PRECISIONS = """
import sys, time
from app.config import Settings
from app.runner import Runner
from bench.serving import machine
from models import Generator
from models.checkpoint import load_checkpoint
from models.files import REPO_ROOT
seconds, rounds = float(sys.argv[1]), int(sys.argv[2])
runners = {p: Runner(Settings(precision=p, threads=1)) for p in ("float32", "bfloat16", "float16")}

def per_image(forward, latents):
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or done == 0:
        forward(latents)
        done += 1
    return (time.perf_counter() - start) / (done * len(latents))

from models.runtime import native_bfloat16
print(f"{machine('cpu')}, one torch thread; native bfloat16: {', '.join(native_bfloat16()) or 'none'}")
print("| model | batch | float32 us/image | bfloat16 us/image | float16 us/image | bfloat16 / float32 |")
print("|---|---:|---:|---:|---:|---:|")
for name in ("gan-mnist", "dcgan-mnist", "cgan-mnist", "infogan-mnist"):
    G, _ = load_checkpoint(REPO_ROOT / "checkpoints" / name, expected_class=Generator)
    forwards = {p: runner.forward_fn(G) for p, runner in runners.items()}
    for p, runner in runners.items():
        runner.warm_up(name, G, forwards[p])
    for n in (1, 16, 64):
        latents = G.latents_for_seeds(range(n))
        best = dict.fromkeys(runners, float("inf"))
        for _ in range(rounds):
            for p, runner in runners.items():
                best[p] = min(best[p], runner.executor.submit(per_image, forwards[p], latents).result())
        f32, bf16, f16 = (best[p] * 1e6 for p in ("float32", "bfloat16", "float16"))
        print(f"| {name} | {n} | {f32:.1f} | {bf16:.1f} | {f16:.1f} | {bf16 / f32:.2f} |", flush=True)
for runner in runners.values():
    runner.stop()
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", action="store_true", help="only 3: torch against ONNX Runtime")
    parser.add_argument("--precisions", action="store_true", help="only 4: float32 against bfloat16 and float16")
    parser.add_argument("--seconds", type=float, default=2.0, help="3 and 4: the length of one measurement")
    parser.add_argument("--rounds", type=int, default=3, help="3 and 4: measurements per point (the best is kept)")
    args = parser.parse_args(argv)
    run = lambda code, *args: subprocess.run([sys.executable, "-c", code, *args], cwd=REPO_ROOT,  # noqa: E731
                                             check=True)
    if args.backends or args.precisions:
        run(BACKENDS if args.backends else PRECISIONS, str(args.seconds), str(args.rounds))
        return
    run(LATENTS)
    for mode in ("defaults", "kept", "defaults", "kept"):  # twice each, alternating: the machine drifts
        run(FORWARD, mode)


if __name__ == "__main__":
    main()
