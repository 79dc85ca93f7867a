"""Dashboard benchmark (not a test): server-side rerun time per page, and the server's memory after every page.

1. Rerun time: each page runs under Streamlit's AppTest (the same ScriptRunner a server uses, no browser; its
   compiled-script cache shared across runs as in a server): one warm-up run (opens and verifies the ONNX sessions,
   fills the caches), then --reruns timed reruns: of the same view, then each after moving one widget to a value
   not shown before (new seed, new date, another model...), so that view's caches miss. Target: < 300 ms.
2. Memory: a real `streamlit run` server on a loopback port; headless chromium opens every page in turn (and draws on
   the Autoencoder pad); then the server process's RSS (psutil, children included). Target: < 400 MB (issue 11;
   it was 250 MB before MiniLM).

    python benchmarks/app_bench.py [--reruns 10] [--no-browser] [--pages RealTransformer ...]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PAGES = {"Home": "app_pages/home.py", "Autoencoder": "app_pages/autoencoder.py", "GAN": "app_pages/gan.py",
         "Attention": "app_pages/attention.py", "Transformer": "app_pages/transformer.py",
         "RealTransformer": "app_pages/real_transformer.py", "Models": "app_pages/models.py", "FAQ": "app_pages/faq.py"}
SLUGS = {"Home": ""}  # the URL path of each page (ui/app.py): the page's name, except Home
CHROMIUM = "/usr/bin/chromium"
# 250 MB before the Real Transformer; issue 11 allows 400 MB with every page visited, MiniLM (22.6M parameters) loaded
MEMORY_TARGET_MB = 400


def _server_like_script_cache() -> None:
    """AppTest compiles the page afresh on every run; a server compiles it once. Share one cache, as a server does."""
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import app_test, local_script_runner

    shared = ScriptCache()
    app_test.ScriptCache = local_script_runner.ScriptCache = lambda: shared


def _widget(elements, key):
    return next(w for w in elements if w.key == key)


DATES = ["14 March 1987", "July 4, 2021", "Saturday, November 28, 2026", "03/15/1999", "1st of May 1900",
         "dec 25 2000", "2049/02/28", "31.12.1999", "Feb 29, 2004", "7 Jun 1955", "Wed 1 Jan 2020", "30-Sep-2010"]


def _sentences() -> list[str]:
    from core.pretrained.heads import read_sentences

    return read_sentences()


def _new_sentence(i, at):  # a sentence not shown before: a new analysis, every figure rebuilt
    return _widget(at.text_area, "text").set_value(_sentences()[i % len(_sentences())])


def _next_model(i, at):
    box = _widget(at.selectbox, "model")
    return box.set_value(box.options[(i + 1) % len(box.options)])


CHANGES = {  # page -> (i, AppTest) -> set one view widget to a value not shown before (so its caches miss)
    "Home": lambda i, at: _widget(at.radio, "lang").set_value("zh" if i % 2 == 0 else "en"),
    "Autoencoder": lambda i, at: _widget(at.number_input, "b").set_value(10 + i),
    "GAN": lambda i, at: _widget(at.number_input, "seed").set_value(1000 + i),
    "Attention": lambda i, at: _widget(at.text_input, "text").set_value(DATES[i % len(DATES)]),
    "Transformer": lambda i, at: _widget(at.text_input, "text").set_value(DATES[i % len(DATES)]),
    "RealTransformer": _new_sentence,
    "Models": _next_model,
    "FAQ": lambda i, at: _widget(at.text_input, "params").set_value(f"{i + 2}B"),
}


def rerun_times(reruns: int, change: bool, pages: list[str] | None = None) -> dict[str, list[float]]:
    """Per page: ms of each rerun after a warm-up run; with ``change``, each rerun first moves one view widget."""
    from streamlit.testing.v1 import AppTest

    _server_like_script_cache()
    out = {}
    for name, path in PAGES.items():
        if pages and name not in pages:
            continue
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
        at.run()  # the router opens Home; then the page: sessions opened and verified, caches filled
        if name != "Home":
            at.switch_page(path).run()
        times = []
        for i in range(reruns):
            if change:
                CHANGES[name](i, at)
            t0 = time.perf_counter()
            at.run()
            times.append((time.perf_counter() - t0) * 1000.0)
        if at.exception:
            print(f"  {name}: exception {at.exception[0].value}", file=sys.stderr)
        out[name] = times
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    import psutil

    p = psutil.Process(pid)
    return (p.memory_info().rss + sum(c.memory_info().rss for c in p.children(recursive=True))) / 2**20


def server_memory() -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read().strip() == b"ok":
                    break
            except OSError:
                time.sleep(0.3)
        res = {"after start": _rss_mb(proc.pid)}
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic"])
            page = b.new_page(viewport={"width": 1400, "height": 1000})
            for name, path in PAGES.items():
                slug = SLUGS.get(name, name)
                page.goto(f"{url}/{slug}", wait_until="domcontentloaded")
                page.wait_for_selector('[data-testid="stMain"]', timeout=60000)
                _wait_idle(page)
                if name == "Autoencoder":
                    page.goto(f"{url}/{slug}?source=draw", wait_until="domcontentloaded")
                    canvas = page.locator("canvas[aria-label^='drawing pad']").first
                    canvas.wait_for(timeout=60000)
                    box = canvas.bounding_box()
                    page.mouse.move(box["x"] + 110, box["y"] + 30)
                    page.mouse.down()
                    for i in range(20):
                        page.mouse.move(box["x"] + 110 - i, box["y"] + 30 + i * 8)
                    page.mouse.up()
                    _wait_idle(page)
                res[f"after {name}"] = _rss_mb(proc.pid)
            b.close()
        time.sleep(1.0)
        res["after all pages"] = _rss_mb(proc.pid)
        return res
    finally:
        proc.terminate()
        proc.wait(10)


def _wait_idle(page, timeout: float = 120.0) -> None:
    deadline, quiet = time.time() + timeout, None
    while time.time() < deadline:
        if page.locator('[data-testid="stStatusWidget"]').count():
            quiet = None
        elif quiet is None:
            quiet = time.time()
        elif time.time() - quiet > 1.0:
            return
        time.sleep(0.2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reruns", type=int, default=10)
    ap.add_argument("--no-browser", action="store_true", help="skip the memory measurement (needs chromium)")
    ap.add_argument("--pages", nargs="*", choices=list(PAGES), help="time only these pages (default: all)")
    args = ap.parse_args()
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    for change, what in ((False, "the same view"), (True, "a new view: one widget moved to an unseen value")):
        print(f"\nServer-side rerun time after warm-up, {what} ({args.reruns} reruns; target < 300 ms)")
        print(f"{'page':<16} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
        worst = 0.0
        for name, t in rerun_times(args.reruns, change, args.pages).items():
            p95 = sorted(t)[max(0, int(round(0.95 * len(t))) - 1)]
            worst = max(worst, statistics.median(t))
            print(f"{name:<16} {statistics.median(t):>10.1f} {p95:>8.1f} {max(t):>8.1f}")
        print(f"slowest median: {worst:.1f} ms -> {'OK' if worst < 300 else 'ABOVE TARGET'}")
    if args.no_browser or not os.path.exists(CHROMIUM):
        print("\n(memory measurement skipped: --no-browser or no chromium)")
        return
    print(f"\nServer memory (RSS incl. children, MB; target < {MEMORY_TARGET_MB} MB after every page)")
    mem = server_memory()
    for k, v in mem.items():
        print(f"  {k:<22} {v:7.1f}")
    last = mem["after all pages"]
    print(f"after all pages: {last:.1f} MB -> {'OK' if last < MEMORY_TARGET_MB else 'ABOVE TARGET'}")


if __name__ == "__main__":
    main()
