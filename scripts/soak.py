"""Soak test (not in CI's default run: about three minutes): ``make soak``.

Against a real server on 127.0.0.1: 10,000 single-image POST /generate at concurrency 64 and, at the same
time, 1,000 requests of n=256 (JSON) on 4 more connections. Passes when every answer is 2xx, the server's
resident memory is flat after warm-up (end within 10% + 32 MB of the post-warm-up figure), and /healthz,
probed every 200 ms from a process of its own (so the load generator's busy interpreter does not count),
answers within 100 ms throughout. Prints start, peak and end RSS.

    python scripts/soak.py [--singles 10000] [--bulk 1000] [--model dcgan-mnist]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.load import Connection  # noqa: E402
from tests.server import server_process  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def hammer(url: str, body: dict, total: int, concurrency: int, statuses: dict[int, int]) -> None:
    parts = urlsplit(url)
    left = [total]

    async def worker(k: int) -> None:
        c = Connection(parts.hostname, parts.port)
        await c.open()
        try:
            while left[0] > 0:
                left[0] -= 1
                status = await c.post("/generate", body | {"seed": k * 1_000_000 + left[0]})
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            c.close()

    await asyncio.gather(*(worker(k) for k in range(concurrency)))


def probe(url: str, pid: int, stop, results) -> None:
    """Every 200 ms: /healthz latency (ms) and the server's RSS (MB), until ``stop`` is set."""
    latencies, peak = [], 0.0
    with httpx.Client(base_url=url, timeout=5) as c:
        while not stop.is_set():
            t0 = time.perf_counter()
            ok = c.get("/healthz").status_code == 200
            latencies.append((time.perf_counter() - t0) * 1000 if ok else float("inf"))
            peak = max(peak, rss_mb(pid))
            time.sleep(0.2)
    results.put((latencies, peak))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--singles", type=int, default=10_000)
    parser.add_argument("--bulk", type=int, default=1_000)
    parser.add_argument("--model", default="dcgan-mnist")
    args = parser.parse_args(argv)

    with server_process({"GAN_LOG_LEVEL": "warning"}) as (url, proc):
        statuses: dict[int, int] = {}
        async def mix(singles: int, bulk: int) -> None:
            await asyncio.gather(
                hammer(url, {"model": args.model, "n": 1}, singles, 64, statuses),
                hammer(url, {"model": args.model, "n": 256, "format": "json"}, bulk, 4, statuses))

        asyncio.run(mix(1000, 100))  # warm-up: the same mix, until the allocator's pools are grown
        start_rss = rss_mb(proc.pid)
        ctx = multiprocessing.get_context("spawn")
        done, results = ctx.Event(), ctx.Queue()
        prober = ctx.Process(target=probe, args=(url, proc.pid, done, results))
        prober.start()
        statuses.clear()
        t0 = time.perf_counter()

        asyncio.run(mix(args.singles, args.bulk))
        elapsed = time.perf_counter() - t0
        done.set()
        probes, peak_rss = results.get(timeout=30)
        prober.join()
        end_rss = rss_mb(proc.pid)
        peak_rss = max(peak_rss, start_rss, end_rss)

    non_2xx = sum(n for s, n in statuses.items() if not 200 <= s < 300)
    worst = max(probes) if probes else float("inf")
    flat = end_rss <= start_rss * 1.10 + 32
    print(f"{args.singles} single + {args.bulk} n=256 requests in {elapsed:.0f} s; statuses {statuses}")
    print(f"RSS after warm-up {start_rss:.0f} MB, peak {peak_rss:.0f} MB, end {end_rss:.0f} MB "
          f"({'flat' if flat else 'GREW'})")
    print(f"/healthz: {len(probes)} probes, p50 {sorted(probes)[len(probes) // 2]:.1f} ms, worst {worst:.1f} ms")
    ok = non_2xx == 0 and flat and worst < 100
    print("soak: ok" if ok else "soak: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
