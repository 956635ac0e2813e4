"""Where a loaded server's CPU goes, thread by thread: single-image POST /generate at c=64 (wrk) against one server
per setting, with each thread's CPU time (Linux's /proc/<pid>/task) read before and after, per request.

    python -m bench.thread_cpu --models cgan-mnist
    python -m bench.thread_cpu --setting GAN_LOG_LEVEL=warning --setting OMP_WAIT_POLICY=PASSIVE --models cgan-mnist

Threads by what they are: the event loop (the process's first thread), the torch thread (the runner's executor),
OpenMP's workers (the torch thread's team; their CPU includes spinning while they wait for the next parallel region)
and the rest (the threadpool, the file watcher). CPU time is steadier than req/s on a machine that drifts (each
server is measured on its own, one after another), though spinning moves with the timing too.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from app.runner import TORCH_OS_NAME as TORCH_NAME
from bench.load import load
from bench.serving import machine
from bench.settings_ab import environment
from tests.server import server_process

TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[int, tuple[str, float]]:
    """Each thread of ``pid``: its name and the CPU seconds (user and system) it has used."""
    threads = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()  # after the name: state, ..., utime, stime
            cpu = (int(fields[11]) + int(fields[12])) * TICK_S
            threads[int(task.name)] = ((task / "comm").read_text().strip(), cpu)
        except (FileNotFoundError, ProcessLookupError):  # a thread that ended meanwhile
            continue
    return threads


def role(tid: int, pid: int, name: str, torch_tid: int | None) -> str:
    """The event loop is the process's first thread; the runner names its torch thread gan-torch (app/runner.py), and
    OpenMP's workers, which that thread starts, inherit the name."""
    if tid == pid:
        return "event loop"
    if tid == torch_tid:
        return "torch thread"
    return "OpenMP workers" if name == TORCH_NAME else "other"


def measure(pid: int, url: str, body: dict, seconds: float) -> tuple[float, dict[str, float]]:
    """req/s, and CPU microseconds a request for each thread role, over one wrk run at c=64."""
    before = thread_cpu(pid)
    r = load(url, "/generate", body, 64, seconds)
    after = thread_cpu(pid)
    torch_tid = min((t for t, (name, _) in after.items() if name == TORCH_NAME), default=None)
    us: dict[str, float] = {}
    for tid, (name, cpu) in after.items():
        who = role(tid, pid, name, torch_tid)
        us[who] = us.get(who, 0.0) + (cpu - before.get(tid, (name, 0.0))[1]) / r["requests"] * 1e6
    return r["rps"], us


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setting", action="append", help="NAME=VALUE[,NAME=VALUE...] (default: the defaults)")
    parser.add_argument("--models", default="cgan-mnist")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    settings = args.setting or ["GAN_LOG_LEVEL=warning"]
    roles = ["event loop", "torch thread", "OpenMP workers"]
    print(f"`python -m bench.thread_cpu` on {machine('cpu')}: single images at c=64, {args.seconds:g} s a run; "
          "CPU microseconds a request, by thread")
    print("| model | setting | round | req/s | " + " | ".join(roles) + " | other | all |")
    print("|---|---|---:|---:|" + "---:|" * (len(roles) + 2))
    for model in args.models.split(","):
        body = {"model": model, "n": 1}
        for k in range(1, args.rounds + 1):
            for setting in settings:
                with server_process({"GAN_LOG_LEVEL": "warning"} | environment(setting)) as (url, proc):
                    load(url, "/generate", body, 64, 2)  # warm
                    rps, us = measure(proc.pid, url, body, args.seconds)
                cells = [f"{us.get(who, 0.0):.0f}" for who in [*roles, "other"]] + [f"{sum(us.values()):.0f}"]
                print(f"| {model} | {setting} | {k} | {rps:.0f} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
