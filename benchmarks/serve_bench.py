"""Serving benchmark (not a test): the real Streamlit server, driven over its websocket as browsers do.

Starts ``streamlit run streamlit_app.py`` on a loopback port (headless), or drives one already running (--url, e.g.
nginx in front of several servers, with --pids naming the server processes to account for), then:

1. warm-up: one session visits every page and makes every change once (sessions opened, caches filled);
2. per page, one visitor alone: --runs page runs (a tab opened on one of the page's links, then three widget
   changes, repeated); the server's CPU time (user + system, psutil) around each run, so "CPU per page run" is what
   one click costs;
3. load, for each --sessions N: N visitors at once for --seconds, each a seeded walk (a shared link opened in a
   tab, then 3-8 pages by the sidebar with 1-3 widget changes on each, then a new tab on another link): page runs/s,
   p50/p95 wall latency per run, the
   server's CPU per page run, RSS before/after, errors (exception elements, st.error boxes, protocol errors);
4. --soak SECONDS: the load of the largest N for that long, the server's RSS sampled every --sample seconds; growth
   is judged from the level at --settle seconds (120: Streamlit keeps each departed visitor's session that long, so
   only then is the working set of N visitors and their recent predecessors in memory) to the end.

Targets (issue 9): median page run <= 40 ms of server CPU and Home <= 20 ms; >= 20 page runs/s with 32 sessions on
2 cores, p95 <= 2 s; RSS grows <= 60 MB over 10 minutes of load. The machine's load average is printed with the
figures: on a shared machine they are upper bounds on cost and lower bounds on throughput.

    python benchmarks/serve_bench.py                                # 1, 16, 32 sessions, 30 s each
    python benchmarks/serve_bench.py --sessions 32 --seconds 60 --set runner.postScriptGC=false
    python benchmarks/serve_bench.py --sessions 32 --soak 720 --skip-pages   # 2 + 10 minutes, RSS every 15 s
    python benchmarks/serve_bench.py --url http://127.0.0.1:8600 --pids 1234,1235   # behind nginx
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.app_views import PAGES, PageViews, Plan, label, resolve_page  # noqa: E402
from benchmarks.st_driver import (DriverError, Server, Session, server_cpu_seconds,  # noqa: E402
                                  server_rss_mb)

TARGET_CPU_MS, TARGET_HOME_MS, TARGET_RUNS_S, TARGET_P95_S, TARGET_RSS_MB = 40, 20, 20, 2.0, 60


def loadavg() -> str:
    a = os.getloadavg()
    return f"load average {a[0]:.2f} {a[1]:.2f} {a[2]:.2f} ({os.cpu_count()} CPUs)"


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(q * len(s) + 0.5)) - 1))]


class Servers:
    """CPU and RSS of the server processes being measured (one, or several behind a proxy)."""

    def __init__(self, pids: list[int]):
        self.pids = pids

    def cpu(self) -> float:
        return sum(server_cpu_seconds(p) for p in self.pids)

    def rss(self) -> float:
        return sum(server_rss_mb(p) for p in self.pids)


@dataclass
class Stats:
    lat: list[float] = field(default_factory=list)
    runs: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: int = 0
    exceptions: int = 0
    error_boxes: int = 0

    def record(self, r, what: str) -> None:
        self.runs += 1
        self.lat.append(r.seconds)
        if r.exceptions:
            self.exceptions += 1
            self.errors.append(f"{what}: exception {r.exceptions[0].proto.type}: {r.exceptions[0].proto.message}")
        if r.errors:
            self.error_boxes += 1
            self.errors.append(f"{what}: st.error {r.errors[0].proto.body[:120]}")
        if r.page_not_found:
            self.errors.append(f"{what}: page not found")


async def apply(s: Session, change: dict, stats: Stats | None = None):
    """One interaction, or None (counted as skipped) when a widget it names is not on the page."""
    if not all(s.has(k) for k in change):
        if stats is not None:
            stats.skipped += 1
        return None
    return await s.change(change)


PATHS: list[str] = []  # the app's page url paths, from its navigation message (learn_paths)


async def learn_paths(url: str) -> list[str]:
    async with Session(url, timeout=300) as s:
        await s.open("")
        PATHS[:] = list(s.pages)
    return PATHS


async def visit(s: Session, page: PageViews, query: str = ""):
    """A shared link (page + query) in a fresh tab when ``s`` has not run yet, else a sidebar page switch."""
    path = resolve_page(page.name, PATHS or list(s.pages))
    if s.last is None:
        return await s.open(path, query)
    return await s.goto(path)


# ------------------------------------------------------------------------------------------------------ phases
async def warm_up(url: str) -> list[str]:
    """Every page from each of its links, and every change once; returns the changes that found no widget."""
    missing = []
    await learn_paths(url)
    for p in PAGES:
        for i, q in enumerate(p.queries):
            async with Session(url, timeout=300) as s:
                await visit(s, p, q)
                for ch in p.changes if i == 0 else ():
                    if await apply(s, ch) is None:
                        missing.append(f"{label(p.name)}: {ch}")
    return missing


async def per_page(url: str, srv: Servers, runs: int) -> dict[str, dict]:
    """One visitor alone, page by page: a fresh tab on one of the page's links, then three widget changes, again.

    The server's CPU time is read around each page run only (not around the tab's HTTP requests and handshake).
    """
    out = {}
    for p in PAGES:
        cpu, lat, kinds = [], [], []
        i = 0
        while len(cpu) < runs:
            q = p.queries[i % len(p.queries)]
            async with Session(url) as s:
                await s.connect(resolve_page(p.name, PATHS), q)
                c0 = srv.cpu()
                r = await visit(s, p, q)
                cpu.append(srv.cpu() - c0)
                lat.append(r.seconds)
                kinds.append("load")
                for ch in p.changes[(i * 3) % len(p.changes):][:3] if p.changes else []:
                    if len(cpu) >= runs:
                        break
                    c0 = srv.cpu()
                    r = await apply(s, ch)
                    if r is None:
                        continue
                    cpu.append(srv.cpu() - c0)
                    lat.append(r.seconds)
                    kinds.append("change")
            i += 1
        loads = [c for c, k in zip(cpu, kinds) if k == "load"]
        changes = [c for c, k in zip(cpu, kinds) if k == "change"]
        out[label(p.name)] = {"runs": len(cpu), "cpu_ms": 1000 * statistics.mean(cpu),
                              "load_ms": 1000 * statistics.mean(loads) if loads else float("nan"),
                              "change_ms": 1000 * statistics.mean(changes) if changes else float("nan"),
                              "wall_p50_ms": 1000 * statistics.median(lat)}
    return out


async def walker(url: str, idx: int, deadline: float, stats: Stats, stagger: float) -> None:
    """One visitor: opens a shared link in a tab, clicks through pages (1-3 widget changes on each), and after a
    few pages closes the tab and opens another link (sessions come and go, as in a class)."""
    await asyncio.sleep(stagger)
    plan = Plan(seed=1000 + idx)
    try:
        while time.monotonic() < deadline:
            page, q = plan.next_page()
            async with Session(url, timeout=120) as s:
                for hop in range(plan.rng.randint(3, 8)):
                    if time.monotonic() >= deadline:
                        break
                    if hop:  # a sidebar click to another page (a click on the page one is on is left out)
                        nxt = page
                        while nxt is page:
                            nxt, _ = plan.next_page()
                        page = nxt
                    stats.record(await visit(s, page, q), f"{label(page.name)}" + (f"?{q}" if not hop else ""))
                    for ch in plan.changes(page):
                        if time.monotonic() >= deadline:
                            break
                        r = await apply(s, ch, stats)
                        if r is not None:
                            stats.record(r, f"{label(page.name)} {ch}")
    except (DriverError, OSError, asyncio.TimeoutError) as exc:
        stats.errors.append(f"session {idx}: {type(exc).__name__}: {exc}")
    except Exception as exc:  # websockets' ConnectionClosed and friends
        stats.errors.append(f"session {idx}: {type(exc).__name__}: {exc}")


async def load(url: str, srv: Servers, n: int, seconds: float, rss_every: float | None = None) -> dict:
    stats = Stats()
    rss0, cpu0, t0 = srv.rss(), srv.cpu(), time.monotonic()
    deadline = t0 + seconds
    samples = [(0.0, rss0, 0)]
    tasks = [asyncio.create_task(walker(url, i, deadline, stats, stagger=min(2.0, 0.05 * i))) for i in range(n)]
    if rss_every:
        while not all(t.done() for t in tasks):
            await asyncio.wait(tasks, timeout=rss_every)
            samples.append((time.monotonic() - t0, srv.rss(), stats.runs))
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - t0
    cpu = srv.cpu() - cpu0
    return {"sessions": n, "seconds": elapsed, "runs": stats.runs, "runs_per_s": stats.runs / elapsed,
            "p50_s": pct(stats.lat, 0.50), "p95_s": pct(stats.lat, 0.95), "max_s": max(stats.lat, default=0),
            "cpu_ms_per_run": 1000 * cpu / max(1, stats.runs), "cpu_util": cpu / elapsed,
            "rss_start_mb": rss0, "rss_end_mb": srv.rss(), "errors": stats.errors, "skipped": stats.skipped,
            "samples": samples, "load": loadavg()}


# -------------------------------------------------------------------------------------------------------- main
def print_pages(res: dict) -> None:
    print(f"\nServer CPU per page run, one session alone ({loadavg()})")
    print(f"{'page':<12} {'runs':>5} {'CPU ms/run':>11} {'load ms':>8} {'change ms':>10} {'wall p50 ms':>12}")
    for name, r in res.items():
        print(f"{name:<12} {r['runs']:>5} {r['cpu_ms']:>11.1f} {r['load_ms']:>8.1f} {r['change_ms']:>10.1f} "
              f"{r['wall_p50_ms']:>12.1f}")
    med = statistics.median(r["cpu_ms"] for r in res.values())
    mean = statistics.mean(r["cpu_ms"] for r in res.values())
    # One process runs Python on one core at a time (the GIL; onnxruntime's share is small), so its ceiling is
    # about 1000 / (CPU ms per run) runs/s, and N processes on N free cores N times that.
    print(f"capacity from CPU alone: one process ~{1000 / mean:.0f} page runs/s (GIL-bound, one core), "
          f"2 processes on 2 free cores ~{2000 / mean:.0f}/s (mean over pages {mean:.1f} ms)")
    home = res.get("Home", {}).get("cpu_ms", float("nan"))
    print(f"median page: {med:.1f} ms (target <= {TARGET_CPU_MS}) -> {'OK' if med <= TARGET_CPU_MS else 'ABOVE'}; "
          f"Home {home:.1f} ms (target <= {TARGET_HOME_MS}) -> {'OK' if home <= TARGET_HOME_MS else 'ABOVE'}")


def print_load(r: dict) -> None:
    ok = r["runs_per_s"] >= TARGET_RUNS_S and r["p95_s"] <= TARGET_P95_S
    print(f"{r['sessions']:>8} {r['runs']:>6} {r['runs_per_s']:>7.1f} {r['p50_s']:>7.2f} {r['p95_s']:>7.2f} "
          f"{r['max_s']:>7.2f} {r['cpu_ms_per_run']:>8.1f} {r['cpu_util']:>5.2f} {r['rss_start_mb']:>7.0f} "
          f"{r['rss_end_mb']:>7.0f} {len(r['errors']):>6} {r['skipped']:>5}   {r['load']}"
          + ("" if r["sessions"] < 32 else f"  [32-session target: {'OK' if ok else 'MISSED'}]"))
    for e in r["errors"][:5]:
        print(f"         error: {e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", default="1,16,32", help="comma-separated session counts for the load phase")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each load phase")
    ap.add_argument("--runs", type=int, default=24, help="page runs per page in the one-session phase")
    ap.add_argument("--skip-pages", action="store_true", help="skip the one-session per-page phase")
    ap.add_argument("--soak", type=float, default=0.0, help="seconds of load with the largest --sessions, RSS sampled")
    ap.add_argument("--sample", type=float, default=15.0, help="RSS sampling interval of --soak, seconds")
    ap.add_argument("--settle", type=float, default=120.0,
                    help="seconds of --soak before its RSS level is taken: Streamlit keeps a departed visitor's "
                         "session for server.disconnectedSessionTTL (120 s), so the working set is reached only then")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.OPTION=VALUE",
                    help="a config option for the started server (as STREAMLIT_* env), e.g. runner.postScriptGC=false")
    ap.add_argument("--url", help="drive this server instead of starting one (e.g. nginx in front of several)")
    ap.add_argument("--pids", default="", help="with --url: comma-separated server pids to measure")
    ap.add_argument("--nice", type=int, default=10, help="niceness of the started server (shared machine)")
    ap.add_argument("--freeze-after-warmup", action="store_true",
                    help="gc.freeze() in the server after the warm-up (via benchmarks/launch_server.py)")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    ap.add_argument("--log", type=Path, help="the started server's log file")
    args = ap.parse_args()
    options = {}
    for kv in args.set:
        k, v = kv.split("=", 1)
        options[k] = {"true": True, "false": False}.get(v.lower(), v)
    sessions = [int(x) for x in args.sessions.split(",") if x]

    print(f"Python {sys.version.split()[0]}; {loadavg()}; options {options or 'as in .streamlit/config.toml'}")
    server = None
    if args.url:
        url, pids = args.url.rstrip("/"), [int(p) for p in args.pids.split(",") if p]
        if not pids:
            sys.exit("--url needs --pids (the server processes whose CPU and memory to measure)")
    else:
        flag = None
        if args.freeze_after_warmup:
            import tempfile

            flag = Path(tempfile.mkdtemp(prefix="serve_bench_")) / "freeze"
            if args.log is None:
                args.log = flag.with_name("server.log")
        server = Server(options=options, log=args.log, prefix=["nice", "-n", str(args.nice)] if args.nice else [],
                        launcher=ROOT / "benchmarks" / "launch_server.py" if flag else None,
                        env={"BML_FREEZE_FLAG": str(flag)} if flag else None)
        server.start()
        url, pids = server.url, [server.pid]
    srv = Servers(pids)
    out: dict = {"options": options, "load_at_start": loadavg()}
    try:
        print(f"server {url} (pids {pids}); RSS after start {srv.rss():.0f} MB")
        t = time.monotonic()
        missing = asyncio.run(warm_up(url))
        print(f"warm-up: every page and change once, {time.monotonic() - t:.1f} s; RSS {srv.rss():.0f} MB")
        if not args.url and args.freeze_after_warmup:
            flag.touch()
            for _ in range(50):
                time.sleep(0.2)
                if "gc.freeze()" in server.log_text():
                    break
            print("  " + next((ln for ln in server.log_text().splitlines() if "gc.freeze()" in ln),
                              "gc.freeze() did not report back"))
        if missing:
            print("  changes that found no widget (skipped; update benchmarks/app_views.py):")
            for m in missing:
                print(f"    {m}")
        if not args.skip_pages:
            out["pages"] = asyncio.run(per_page(url, srv, args.runs))
            print_pages(out["pages"])
        if sessions and args.seconds > 0:
            print(f"\nLoad: N sessions at once, {args.seconds:.0f} s each (CPU ms/run = server CPU / page runs; "
                  f"util = server CPU seconds per second)")
            print(f"{'sessions':>8} {'runs':>6} {'runs/s':>7} {'p50 s':>7} {'p95 s':>7} {'max s':>7} "
                  f"{'CPU ms':>8} {'util':>5} {'RSS0 MB':>7} {'RSS1 MB':>7} {'errors':>6} {'skip':>5}")
            out["load"] = []
            for n in sessions:
                r = asyncio.run(load(url, srv, n, args.seconds))
                out["load"].append(r)
                print_load(r)
        if args.soak > 0:
            n = max(sessions or [16])
            print(f"\nSoak: {n} sessions for {args.soak:.0f} s, RSS every {args.sample:.0f} s")
            r = asyncio.run(load(url, srv, n, args.soak, rss_every=args.sample))
            out["soak"] = r
            print(f"{'t s':>7} {'RSS MB':>8} {'runs':>7}")
            for ts, rss, runs in r["samples"]:
                print(f"{ts:>7.0f} {rss:>8.1f} {runs:>7}")
            rs = [x[1] for x in r["samples"]]
            first_min = next((x[1] for x in r["samples"] if x[0] >= 60), rs[0])
            # the level: 32 visitors' sessions plus those who left in the last disconnectedSessionTTL seconds
            settled = next((x for x in r["samples"] if x[0] >= args.settle), r["samples"][0])
            growth = rs[-1] - settled[1]
            span = r["samples"][-1][0] - settled[0]
            r["rss_settled_mb"], r["rss_growth_after_settle_mb"], r["growth_span_s"] = settled[1], growth, span
            print(f"RSS: start {rs[0]:.0f} MB, after 1 min {first_min:.0f} MB, end {rs[-1]:.0f} MB, max {max(rs):.0f} MB;"
                  f" growth over the soak {rs[-1] - rs[0]:+.0f} MB, after the first minute {rs[-1] - first_min:+.0f} MB")
            print(f"RSS level at {settled[0]:.0f} s (--settle) {settled[1]:.0f} MB; growth over the next {span / 60:.1f} min "
                  f"{growth:+.0f} MB (target <= {TARGET_RSS_MB} MB over 10 min) -> "
                  f"{'OK' if growth <= TARGET_RSS_MB and span >= 600 else 'ABOVE' if growth > TARGET_RSS_MB else 'too short to judge'}")
            print(f"{r['runs']} page runs, {r['runs_per_s']:.1f}/s, p95 {r['p95_s']:.2f} s, "
                  f"{r['cpu_ms_per_run']:.1f} ms CPU/run, {len(r['errors'])} errors; {r['load']}")
        out["load_at_end"] = loadavg()
        if server is not None and "Traceback" in server.log_text():
            print("\nThe server log has a traceback: see", args.log)
    finally:
        if server is not None:
            server.stop()
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
