"""Where a page run's server CPU goes: py-spy samples the real server while one session drives each page.

Starts the server (as serve_bench.py does, same --set options), warms it up, then for each page runs py-spy
(``pip install py-spy``; it needs ptrace, which root in this container has) on the server process while one session
makes --runs page runs of that page. For each page it prints the server CPU per run and the share of samples
(active threads only) under a few suspects and the top functions by inclusive time.

    python benchmarks/serve_profile.py [--runs 30] [--rate 200] [--set runner.postScriptGC=false] [--out DIR]

--out keeps each page's collapsed stacks (py-spy --format raw), e.g. for flamegraph.pl or speedscope.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.app_views import PAGES, label  # noqa: E402
from benchmarks.serve_bench import Servers, apply, loadavg, visit, warm_up  # noqa: E402
from benchmarks.st_driver import Server, Session  # noqa: E402

# (name, substring of a frame "function (file:line)") — the suspects and the usual costs of a run
SUSPECTS = [
    ("gc.collect after the run (runner.postScriptGC)", "_on_script_finished (streamlit/runtime/scriptrunner"),
    ("  of which gc itself", "gc_collect"),
    ("plotly: figure build/validate (inside ui.fig/cached)", "plotly/basedatatypes.py"),
    ("plotly: st.plotly_chart (to_json, deepcopy, validate)", "plotly_chart (streamlit/elements/plotly_chart.py"),
    ("  of which copy.deepcopy", "deepcopy (copy.py"),
    ("  of which plotly.io to_json / json encode", "to_json"),
    ("st.cache_* key hashing", "streamlit/runtime/caching/hashing.py"),
    ("st.cache_* lookup + return copy (pickle)", "streamlit/runtime/caching/cache_utils.py"),
    ("ui._digest (figure cache keys)", "_digest (ui/__init__.py"),
    ("protobuf serialise + message hash", "populate_hash_if_needed"),
    ("onnxruntime InferenceSession.run", "run (onnxruntime/capi/onnxruntime_inference_collection.py"),
    ("markdown / st.write", "streamlit/elements/markdown.py"),
    ("core.content (FAQ/Home text)", "core/content/__init__.py"),
    ("session state / widgets registration", "streamlit/runtime/state/"),
    ("st.query_params", "streamlit/runtime/state/query_params"),
    ("page script exec (all of the page's own code)", "exec_func_with_error_handling"),
    ("websocket / event loop (uvicorn, starlette, websockets)", "websockets/"),
]


IDLE = ("EpollSelector.select (selectors.py", "task (streamlit/watcher/polling_path_watcher.py:90)",
        "Condition.wait (threading.py", "_worker (concurrent/futures/thread.py")


def summarise(raw: Path, top: int) -> tuple[int, list, list]:
    total = 0
    incl: collections.Counter = collections.Counter()
    self_: collections.Counter = collections.Counter()
    stacks = []
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        n = int(n)
        frames = stack.split(";")
        if frames and frames[0].startswith("thread"):  # py-spy raw puts "thread (id)" / process first
            frames = frames[1:]
        if frames and any(i in frames[-1] for i in IDLE):
            continue  # a thread waiting, which py-spy did not always recognise as idle
        total += n
        stacks.append((frames, n))
        for f in set(frames):
            incl[f] += n
        if frames:
            self_[frames[-1]] += n
    sus = []
    for name, needle in SUSPECTS:
        c = sum(n for frames, n in stacks if any(needle in f for f in frames))
        sus.append((name, c))
    return total, sus, [(f, c) for f, c in incl.most_common(top)], self_.most_common(top)


async def drive(url: str, page, runs: int) -> int:
    """As serve_bench's per-page phase: a tab on one of the page's links, three widget changes, again."""
    done, i = 0, 0
    while done < runs:
        async with Session(url) as s:
            await visit(s, page, page.queries[i % len(page.queries)])
            done += 1
            for ch in page.changes[(i * 3) % len(page.changes):][:3] if page.changes else []:
                if done >= runs:
                    break
                if await apply(s, ch) is not None:
                    done += 1
        i += 1
    return done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    ap.add_argument("--top", type=int, default=18)
    ap.add_argument("--pages", default="", help="comma-separated page names (default: all; Home is 'Home')")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.OPTION=VALUE")
    ap.add_argument("--out", type=Path, help="keep each page's collapsed stacks here")
    args = ap.parse_args()
    if not shutil.which("py-spy"):
        sys.exit("py-spy is not installed: pip install py-spy")
    options = {}
    for kv in args.set:
        k, v = kv.split("=", 1)
        options[k] = {"true": True, "false": False}.get(v.lower(), v)
    wanted = {x.strip().lower() for x in args.pages.split(",") if x.strip()}
    out = args.out or Path(tempfile.mkdtemp(prefix="serve_profile_"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"{loadavg()}; options {options or 'as in .streamlit/config.toml'}")
    with Server(options=options, prefix=["nice", "-n", "10"]) as server:
        srv = Servers([server.pid])
        asyncio.run(warm_up(server.url))
        for page in PAGES:
            if wanted and label(page.name).lower() not in wanted:
                continue
            raw = out / f"{label(page.name)}.txt"
            spy = subprocess.Popen(["py-spy", "record", "--pid", str(server.pid), "--rate", str(args.rate),
                                    "--format", "raw", "--output", str(raw)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)  # let py-spy attach
            c0 = srv.cpu()
            n = asyncio.run(drive(server.url, page, args.runs))
            cpu_ms = 1000 * (srv.cpu() - c0) / n
            spy.send_signal(2)  # SIGINT: py-spy writes its output and exits
            spy.wait(30)
            total, sus, top, self_top = summarise(raw, args.top)
            print(f"\n=== {label(page.name)}: {n} runs, server CPU {cpu_ms:.1f} ms/run (py-spy included); "
                  f"{total} samples ({loadavg()})")
            for name, c in sus:
                print(f"  {100 * c / max(1, total):5.1f} %  {name}")
            print("  top functions, inclusive:")
            for f, c in top:
                print(f"  {100 * c / max(1, total):5.1f} %  {f[:150]}")
            print("  top functions, self:")
            for f, c in self_top[:10]:
                print(f"  {100 * c / max(1, total):5.1f} %  {f[:150]}")
    print(f"\ncollapsed stacks in {out}")


if __name__ == "__main__":
    main()
