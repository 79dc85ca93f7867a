"""``streamlit`` with one extra, for measuring: ``gc.freeze()`` in the server process when a flag file appears.

    BML_FREEZE_FLAG=/tmp/flag python benchmarks/launch_server.py run streamlit_app.py --server.port 8501

serve_bench.py --freeze-after-warmup uses it to measure what freezing the heap after warm-up would save: objects
alive then (the imported modules, Plotly's validators, the ONNX sessions, the caches) move to the permanent
generation, so every later full collection — Streamlit's runner.postScriptGC after each run, or Python's own —
walks only what was allocated since. The app itself could do the same once, e.g. from a function behind
@st.cache_resource called at the end of a page run; this launcher only lets the benchmark try it without an app change.
"""

import gc
import os
import sys
import threading
import time


def _watch(flag: str) -> None:
    while not os.path.exists(flag):
        time.sleep(0.2)
    gc.collect()
    gc.freeze()
    print(f"launch_server: gc.freeze() moved {gc.get_freeze_count()} objects to the permanent generation", flush=True)


if os.environ.get("BML_FREEZE_FLAG"):
    threading.Thread(target=_watch, args=(os.environ["BML_FREEZE_FLAG"],), daemon=True).start()

from streamlit.web.cli import main  # noqa: E402

sys.argv = ["streamlit", *sys.argv[1:]]
main()
