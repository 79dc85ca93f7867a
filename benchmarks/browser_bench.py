"""The live views in a real browser: per-interaction latency, first-load cost, and the server's CPU (a script that
prints figures, not a test).

    nice -n 10 python benchmarks/browser_bench.py [--moves 150] [--skip-before] [--skip-data-path]

Figures:
- latency (p50 / p95, ms, measured in the page around preprocessing + every model run + drawing) of a pad update
  (both modes), a latent-map hover, a GAN slider step, and a keystroke in each date box;
- first load on a cold cache (a fresh browser context: empty HTTP cache and Cache Storage) per view: bytes over the
  network, time from navigation start to the runtime being ready and to the first live result; then a warm load
  (same context, new page), where the runtime and models come from Cache Storage;
- server: script runs and CPU during live interactions (target: none), per commit, and "before": the CPU of one
  rerun of the dashboard's own pages (Autoencoder pad release, Attention text submit), which is what each
  pointer update would cost if it went to the server;
- the alternative transport, measured: the pad's five models sent as component data (base64 in the element's JSON),
  websocket bytes per page load and server CPU per rerun.

The machine may be shared: the load average is printed at the start and the end; figures under load are slower.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.live_js import WS_HOOK
from tests.support.live_server import CHROMIUM, CHROMIUM_ARGS, demo_server, free_port


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"


def cpu_s(proc) -> float:
    import psutil

    t = psutil.Process(proc.pid).cpu_times()
    return t.user + t.system


class Net:
    """Bytes over the network (CDP: encoded body + headers per response, websocket payloads) for one page."""

    def __init__(self, ctx, page):
        self.cdp = ctx.new_cdp_session(page)
        self.cdp.send("Network.enable")
        self.url: dict[str, str] = {}
        self.size: dict[str, int] = {}
        self.ws_in = 0
        self.ws_out = 0
        self.cdp.on("Network.responseReceived", lambda e: self.url.__setitem__(e["requestId"], e["response"]["url"]))
        self.cdp.on("Network.loadingFinished", lambda e: self.size.__setitem__(e["requestId"], e["encodedDataLength"]))
        self.cdp.on("Network.webSocketFrameReceived", lambda e: self._ws(e, "in"))
        self.cdp.on("Network.webSocketFrameSent", lambda e: self._ws(e, "out"))

    def _ws(self, e, way):
        r = e["response"]
        n = len(r.get("payloadData", ""))
        n = n * 3 // 4 if r.get("opcode") == 2 else n  # binary frames arrive base64-encoded
        if way == "in":
            self.ws_in += n
        else:
            self.ws_out += n

    def http(self, needle: str = "") -> int:
        return sum(n for rid, n in self.size.items() if needle in self.url.get(rid, ""))


def settle(page, timeout=60.0):
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout * 1000)
    deadline, quiet = time.time() + timeout, None
    while time.time() < deadline:
        if page.locator('[data-testid="stStatusWidget"]').count():
            quiet = None
        elif quiet is None:
            quiet = time.time()
        elif time.time() - quiet > 0.8:
            return
        page.wait_for_timeout(100)


def runs(page) -> int:
    text = page.locator('[data-testid="stText"]', has_text="script runs:").first.inner_text()
    return int(re.search(r"script runs: (\d+)", text).group(1))


VIEWS = {  # view -> (ready mark, first live result mark without input or None)
    "pad": ("ready:pad", None),
    "latent": ("ready:latent", "first:latent-committed"),
    "gan": ("ready:gan", "first:gan"),
    "dates": ("ready:datebox", "first:dates-transformer"),
}


def first_load(browser, url: str, view: str) -> dict:
    ready, first = VIEWS[view]
    out = {}
    ctx = browser.new_context(viewport={"width": 1300, "height": 1100})
    try:
        for kind in ("cold", "warm"):
            page = ctx.new_page()
            net = Net(ctx, page)
            t0 = time.time()
            page.goto(f"{url}/?view={view}")
            page.wait_for_function(f"() => window.__bmlLive && __bmlLive.marks && __bmlLive.marks[{ready!r}]",
                                   timeout=120_000)
            if first:
                page.wait_for_function(f"() => __bmlLive.marks[{first!r}]", timeout=60_000)
            marks = page.evaluate("() => __bmlLive.marks")
            dcl = page.evaluate("() => performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd")
            page.wait_for_timeout(500)
            stats = page.evaluate("() => __bmlLive.fetchStats()")
            out[kind] = {"ready_ms": marks[ready], "mount_ms": marks.get(f"mount:{ready.split(':')[1]}"),
                         "first_ms": marks.get(first) if first else None, "ort_ms": marks.get("ort"), "dcl_ms": dcl,
                         "http": net.http(), "static": net.http("/app/static/"),
                         "ws_in": net.ws_in, "wall_s": time.time() - t0, "from_cache": stats["fromCache"],
                         "fetched": stats["fetched"]}
            page.close()
    finally:
        ctx.close()
    return out


def latencies(browser, url: str, moves: int, proc) -> tuple[dict, dict]:
    ctx = browser.new_context(viewport={"width": 1300, "height": 1500})
    ctx.add_init_script(WS_HOOK)
    page = ctx.new_page()
    page.goto(f"{url}/?view=all")
    for tid in ("live-pad", "live-latent", "live-gan", "live-dates-transformer", "live-dates-seq2seq_attention"):
        page.wait_for_selector(f'[data-testid="{tid}"][data-runtime="browser"]', timeout=120_000)
    settle(page)
    server = {"runs_before": runs(page), "cpu_before": cpu_s(proc), "sent_before": page.evaluate("__bmlSent.length")}

    def pad(index: int):
        c = page.locator('[data-testid="live-pad-canvas"]').nth(index)
        c.scroll_into_view_if_needed()
        b = c.bounding_box()
        page.mouse.move(b["x"] + 40, b["y"] + 40)
        page.mouse.down()
        import math
        for i in range(moves):
            a = i / moves * 4 * math.pi
            r = 20 + 70 * i / moves
            page.mouse.move(b["x"] + 112 + r * math.cos(a), b["y"] + 112 + r * math.sin(a))
            page.wait_for_timeout(12)

    pad(0)
    pad_during = (cpu_s(proc), page.evaluate("__bmlSent.length"))
    page.mouse.up()
    pad(1)
    page.mouse.up()
    m = page.locator('[data-testid="live-latent-map"]')
    m.scroll_into_view_if_needed()
    b = m.bounding_box()
    for i in range(moves):
        page.mouse.move(b["x"] + b["width"] * (0.1 + 0.8 * (i % 50) / 50),
                        b["y"] + b["height"] * (0.1 + 0.8 * i / moves))
        page.wait_for_timeout(12)
    page.mouse.move(0, 0)
    s = page.locator('[data-testid="live-gan-t"]')
    s.scroll_into_view_if_needed()
    b = s.bounding_box()
    page.mouse.move(b["x"] + 3, b["y"] + b["height"] / 2)
    page.mouse.down()
    for i in range(moves):
        f = (i % 100) / 100 if (i // 100) % 2 == 0 else 1 - (i % 100) / 100
        page.mouse.move(b["x"] + 3 + (b["width"] - 6) * f, b["y"] + b["height"] / 2)
        page.wait_for_timeout(12)
    page.mouse.up()
    texts = ["Saturday, 28 November 2026", "28.11.2026", "Nov 28 2026", "2026/11/28", "28 NOVEMBER 2026"]
    for kind in ("transformer", "seq2seq_attention"):
        box = page.locator(f'[data-testid="live-dates-{kind}"] [data-testid="live-date-input"]')
        box.scroll_into_view_if_needed()
        for t in texts:
            box.fill("")
            box.press_sequentially(t, delay=25)
    page.wait_for_timeout(300)
    server["runs_after_interactions"] = runs(page)  # includes the commits of the releases above
    timings = page.evaluate("() => __bmlLive.timings")
    server.update({"pad_stroke_cpu": pad_during[0] - server["cpu_before"],
                   "pad_stroke_sent": pad_during[1] - server["sent_before"],
                   })
    # commits: each one is one rerun; measure its CPU
    c0, r0 = cpu_s(proc), runs(page)
    n_commit = 5
    for i in range(n_commit):
        box = page.locator('[data-testid="live-dates-transformer"] [data-testid="live-date-input"]')
        box.fill(f"{i + 1}.11.2026")
        box.press("Enter")
        page.locator('[data-testid="stText"]', has_text=f"committed='{i + 1}.11.2026'").first.wait_for(timeout=60_000)
        settle(page)
    server["commit_cpu_ms"] = (cpu_s(proc) - c0) / n_commit * 1000
    server["commit_runs"] = runs(page) - r0
    ctx.close()
    return timings, server


def before(browser, moves: int) -> dict:
    """The dashboard's server path: CPU per rerun after a pad release (Autoencoder) and a date submit (Attention)."""
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    url = f"http://127.0.0.1:{port}"
    out = {}
    try:
        import urllib.request

        for _ in range(200):
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read().strip() == b"ok":
                    break
            except OSError:
                time.sleep(0.3)
        ctx = browser.new_context(viewport={"width": 1400, "height": 1100})
        page = ctx.new_page()
        page.goto(f"{url}/Autoencoder?source=draw")
        settle(page)
        canvas = page.locator('canvas[aria-label="drawing pad: draw a digit"]').first
        canvas.wait_for(timeout=60_000)
        settle(page)
        n = 4
        c0 = cpu_s(proc)
        for k in range(n):
            canvas.scroll_into_view_if_needed()
            b = canvas.bounding_box()
            page.mouse.move(b["x"] + 60 + 20 * k, b["y"] + 40)
            page.mouse.down()
            for i in range(20):
                page.mouse.move(b["x"] + 60 + 20 * k + i, b["y"] + 40 + 7 * i)
            page.mouse.up()
            page.wait_for_timeout(300)
            settle(page)
        out["autoencoder_pad_release_cpu_ms"] = (cpu_s(proc) - c0) / n * 1000
        page.goto(f"{url}/Attention")
        settle(page)
        box = page.locator('input[aria-label="Date, as a person might write it"]')
        c0 = cpu_s(proc)
        dates = ["3 May 2031", "4 May 2032", "5 May 2033", "6 May 2034"]
        for d in dates:
            box.fill(d)
            box.press("Enter")
            page.wait_for_timeout(300)
            settle(page)
        out["attention_submit_cpu_ms"] = (cpu_s(proc) - c0) / len(dates) * 1000
        ctx.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return out


def data_path(browser, url: str, proc) -> dict:
    """The pad's models as base64 component data: websocket bytes per load, server CPU per rerun."""
    ctx = browser.new_context()
    page = ctx.new_page()
    net = Net(ctx, page)
    page.goto(f"{url}/?view=datapath")
    page.get_by_text("received", exact=False).first.wait_for(timeout=120_000)
    settle(page)
    first = net.ws_in
    c0, n = cpu_s(proc), 5
    for _ in range(n):
        before_in = net.ws_in
        page.get_by_role("button", name="rerun").click()
        page.wait_for_timeout(300)
        settle(page)
        rerun_in = net.ws_in - before_in
    cpu = (cpu_s(proc) - c0) / n * 1000
    ctx.close()
    return {"ws_first_load": first, "ws_per_rerun": rerun_in, "cpu_per_rerun_ms": cpu}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--moves", type=int, default=150, help="pointer moves per live interaction")
    ap.add_argument("--parts", default="load,latency,data-path,before",
                    help="comma-separated: load, latency, data-path, before (starts the dashboard itself)")
    args = ap.parse_args(argv)
    parts = set(args.parts.split(","))
    from playwright.sync_api import sync_playwright

    print(f"browser bench · {load()}")
    with demo_server() as (url, proc), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        if "load" in parts:
            print_load(browser, url)
        if "latency" in parts:
            print_latency(browser, url, args.moves, proc)
        if "data-path" in parts:
            d = data_path(browser, url, proc)
            mb = sum((ROOT / "exported" / n).stat().st_size for n in
                     ("autoencoder.encoder.onnx", "autoencoder.decoder.onnx", "conv_autoencoder.encoder.onnx",
                      "conv_autoencoder.decoder.onnx", "classifier.onnx")) / 1e6
            print(f"\nalternative, measured: the pad's 5 models ({mb:.1f} MB) as base64 component data")
            print(f"  websocket bytes on a page load: {d['ws_first_load']:,d}; on each rerun: {d['ws_per_rerun']:,d}; "
                  f"server CPU per rerun: {d['cpu_per_rerun_ms']:.0f} ms")
        if "before" in parts:
            b = before(browser, args.moves)
            print("\nbefore: the dashboard's server path (CPU of one rerun; every update sent to the server is one)")
            print(f"  Autoencoder page, pad released: {b['autoencoder_pad_release_cpu_ms']:.0f} ms CPU per rerun")
            print(f"  Attention page, date submitted: {b['attention_submit_cpu_ms']:.0f} ms CPU per rerun")
        browser.close()
    print(f"\n{load()}")
    return 0


def print_load(browser, url: str) -> None:
    print("\nfirst load (ms from navigation start; bytes over the network; cold = empty caches)")
    print(f"{'view':8s} {'':5s} {'DOM ready':>9s} {'mounted':>8s} {'runtime':>8s} {'ready':>8s} {'1st live':>8s} "
          f"{'HTTP bytes':>11s} "
          f"{'/app/static':>11s} {'websocket in':>12s} {'from cache':>10s}")
    for view in VIEWS:
        res = first_load(browser, url, view)
        for kind in ("cold", "warm"):
            r = res[kind]
            fl = f"{r['first_ms']:8.0f}" if r["first_ms"] else f"{'—':>8s}"
            print(f"{view:8s} {kind:5s} {r['dcl_ms']:9.0f} {r['mount_ms'] or 0:8.0f} {r['ort_ms'] or 0:8.0f} "
                  f"{r['ready_ms']:8.0f} {fl} "
                  f"{r['http']:11,d} {r['static']:11,d} {r['ws_in']:12,d} {r['from_cache']:>10d}")
    print("  mounted = the live view's module runs (Streamlit has connected, run the script and drawn the page); "
          "runtime = onnxruntime-web imported; ready = runtime + the view's models fetched, checked and opened "
          "(the pad follows the pen from then); 1st live = the first result shown without input")


def print_latency(browser, url: str, moves: int, proc) -> None:
    timings, server = latencies(browser, url, moves, proc)
    print(f"\nlatency in the browser (ms; one update = preprocessing + every model + drawing) · {load()}")
    print(f"{'interaction':34s} {'n':>5s} {'p50':>7s} {'p95':>7s}")
    names = {"pad-autoencoder": "pad (MLP + conv AE + classifier)", "pad-discriminator": "pad (D + classifier)",
             "latent": "latent map hover (2-D decoder)", "gan": "GAN slider (G + D + classifier)",
             "dates-transformer": "keystroke, Transformer", "dates-seq2seq_attention": "keystroke, additive"}
    for k, label in names.items():
        v = timings.get(k, [])[3:]  # the first updates warm the sessions up
        print(f"{label:34s} {len(v):5d} {pct(v, 0.5):7.2f} {pct(v, 0.95):7.2f}")
    print("\nserver during live interactions")
    print(f"  websocket messages sent during a {moves}-move stroke: {server['pad_stroke_sent']}; "
          f"server CPU meanwhile {server['pad_stroke_cpu'] * 1000:.0f} ms (Streamlit's own housekeeping)")
    print(f"  script runs during all interactions (strokes, hovers, drags, 10 typed dates): "
          f"{server['runs_after_interactions'] - server['runs_before']} (one per commit: pen lifted, slider "
          f"released; none per move or keystroke)")
    print(f"  one commit (Enter in the date box -> one rerun of the demo page): {server['commit_cpu_ms']:.0f} ms CPU; "
          f"{server['commit_runs']} runs for 5 commits")


if __name__ == "__main__":
    raise SystemExit(main())
