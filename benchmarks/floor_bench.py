"""Streamlit's own floor on this machine (not a test): server CPU per rerun of a page with 0, 10, 50 and 200
Markdown elements (and 50 in bordered containers), driven over the websocket like serve_bench.py.

It calibrates serve_bench.py's figures: a page's CPU is about this floor plus its own work, and the floor grows with
the number of elements a run sends, whatever they show.

    python benchmarks/floor_bench.py [--runs 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.st_driver import Server, Session, server_cpu_seconds  # noqa: E402

QUERIES = ["n=0", "n=10", "n=50", "n=200", "k=box&n=50"]


async def measure(runs: int) -> None:
    # the app's own config (no file watcher, no per-run GC), with the tiny page as the main script
    with Server(script="benchmarks/floor/app.py") as srv:
        print(f"{'page':<12} {'CPU ms/run':>10} {'wall ms':>8}")
        for q in QUERIES:
            async with Session(srv.url) as s:
                await s.open("", q)
                for _ in range(5):
                    await s.rerun()
                c0, t0 = server_cpu_seconds(srv.pid), time.perf_counter()
                for _ in range(runs):
                    await s.rerun()
                cpu = (server_cpu_seconds(srv.pid) - c0) / runs * 1000
                print(f"{q:<12} {cpu:>10.2f} {(time.perf_counter() - t0) / runs * 1000:>8.1f}")
    a = os.getloadavg()
    print(f"load average {a[0]:.2f} {a[1]:.2f} {a[2]:.2f} ({os.cpu_count()} CPUs)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=40)
    asyncio.run(measure(max(1, p.parse_args().runs)))


if __name__ == "__main__":
    main()
