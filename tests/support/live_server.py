"""Start the live-view demo (tests/support/live_demo.py) with `streamlit run` for browser tests and benchmarks.

Streamlit serves the static/ folder beside the main script, so the demo is copied into a temporary folder whose
static/ is a symbolic link to this repository's static/ (Streamlit resolves the static root itself, so that is
served; links *inside* static/ that leave it are what it refuses). The server runs in the repository root, so it
reads .streamlit/config.toml (which turns static serving on) and imports ui/ and core/ from here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def demo_server(log_path: str | os.PathLike | None = None, extra_args: tuple[str, ...] = ()):
    """Yields (base url, the server's Popen); stops the server afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="bml-live-"))
    shutil.copyfile(ROOT / "tests" / "support" / "live_demo.py", tmp / "live_demo.py")
    os.symlink(ROOT / "static", tmp / "static")
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(tmp / "live_demo.py"), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--client.showErrorDetails", "full", *extra_args]
    log = open(log_path, "w") if log_path else None
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read().strip() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"streamlit did not start on {url} (exit code {proc.poll()})")
            time.sleep(0.3)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log:
            log.close()
        shutil.rmtree(tmp, ignore_errors=True)
