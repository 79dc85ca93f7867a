"""Peak memory and speed of `python -m core.decode` on many lines (it streams: memory must not grow with them).

    python benchmarks/decode_cli.py [--lines 1000000] [--model transformer] [--threads 1] [--also 20000]

Feeds the CLI the test split's inputs, cycled, through a pipe (written as the CLI reads them), counts the lines
it prints, and reports the CLI process's peak RSS (getrusage in that process), wall time and lines per second.
``--also N`` first measures a run of N lines, so the growth between the two sizes is printed too.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUNNER = ("import resource, sys\nfrom core.decode import main\nrc = main(sys.argv[1:])\n"
          "print('maxrss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\nsys.exit(rc)")


def measure(n_lines: int, model: str, threads: int) -> dict:
    from core.data import dates

    lines = [e.source.encode() + b"\n" for e in dates.test_split()]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads)}
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-c", RUNNER, "--model", model, "--provider", "cpu", "--threads", str(threads)],
                         cwd=ROOT, env=env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    counts = {"out": 0, "errors": 0}

    def drain():
        for line in p.stdout:
            counts["out"] += 1
            counts["errors"] += line.startswith(b"error:")

    reader = threading.Thread(target=drain)
    reader.start()
    block = b"".join(lines)
    full, rest = divmod(n_lines, len(lines))
    for _ in range(full):
        p.stdin.write(block)
    p.stdin.write(b"".join(lines[:rest]))
    p.stdin.close()
    err = p.stderr.read().decode()
    rc = p.wait()
    reader.join()
    seconds = time.perf_counter() - t0
    rss = int(next(l.split()[1] for l in err.splitlines() if l.startswith("maxrss_kb")))
    return {"lines": n_lines, "printed": counts["out"], "error_lines": counts["errors"], "exit": rc,
            "peak_rss_mb": round(rss / 1024, 1), "seconds": round(seconds, 1),
            "lines_per_s": round(n_lines / seconds)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lines", type=int, default=1_000_000)
    p.add_argument("--also", type=int, default=0, help="first measure this many lines, to show the growth")
    p.add_argument("--model", default="transformer")
    p.add_argument("--threads", type=int, default=1, help="the CLI's --threads (ORT intra-op threads; 0 = per core)")
    args = p.parse_args(argv)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"model {args.model}, {args.threads} thread(s), load average at start {load:.2f}")
    results = []
    for n in ([args.also] if args.also else []) + [args.lines]:
        r = measure(n, args.model, args.threads)
        results.append(r)
        print("  " + "  ".join(f"{k} {v}" for k, v in r.items()), flush=True)
    if len(results) == 2:
        print(f"  growth {results[1]['peak_rss_mb'] - results[0]['peak_rss_mb']:+.1f} MB from "
              f"{results[0]['lines']:,} to {results[1]['lines']:,} lines")
    return 0 if all(r["printed"] == r["lines"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
