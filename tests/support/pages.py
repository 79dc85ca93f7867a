"""Run every dashboard page under Streamlit's AppTest against an artifact folder, in a fresh interpreter.

``page_errors(exported_dir)`` -> {page: [message, ...]}: every error box and exception each page shows when
BML_EXPORTED points at ``exported_dir`` (warnings are content here: the FAQ's corrections). A subprocess, because core.EXPORTED is read once at import.

Each page is opened the way tests/test_app_pages.py opens it: the router (streamlit_app.py), then switch_page.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["app_pages/home.py", "app_pages/autoencoder.py", "app_pages/gan.py", "app_pages/attention.py", "app_pages/transformer.py",
         "app_pages/real_transformer.py", "app_pages/models.py", "app_pages/faq.py"]

_RUNNER = """
import json, sys
from streamlit.testing.v1 import AppTest
root, pages = sys.argv[1], json.loads(sys.argv[2])
out = {}
for page in pages:
    msgs = []
    try:
        at = AppTest.from_file(f"{root}/streamlit_app.py", default_timeout=120).run()
        if page != "app_pages/home.py":
            at.switch_page(page).run()
        msgs += [str(e.value) for e in at.exception]
        msgs += [str(e.value) for e in at.error]
    except Exception as exc:  # the page could not even be run
        msgs.append(f"AppTest failed: {exc.__class__.__name__}: {exc}")
    out[page] = msgs
print("PAGE_ERRORS " + json.dumps(out))
"""


def page_errors(exported_dir: str | os.PathLike, pages: list[str] | None = None, timeout: float = 600) -> dict:
    """{page: [messages]} for every page (or ``pages``) run with BML_EXPORTED=exported_dir."""
    env = {**os.environ, "BML_EXPORTED": str(Path(exported_dir).resolve()), "PYTHONPATH": str(ROOT),
           "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", _RUNNER, str(ROOT), json.dumps(pages or PAGES)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=timeout)
    for line in reversed(r.stdout.splitlines()):
        if line.startswith("PAGE_ERRORS "):
            return json.loads(line[len("PAGE_ERRORS "):])
    raise RuntimeError(f"the page runner failed (exit {r.returncode}): {r.stderr[-3000:]}")
