"""The dashboard runs where torch cannot be imported: every page under AppTest, in a subprocess that blocks torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from ui.app import PAGES as APP_PAGES

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from core.i18n import t  # noqa: E402

UNEXPECTED = t("app.unexpected", "en")[:40]  # the router's message for an error a page did not handle
PAGES = [p.file for p in APP_PAGES]  # every page, in the router's order (ui/app.py)

SCRIPT = textwrap.dedent("""
    import importlib.abc, json, sys

    class NoTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch.") or name in ("torchvision", "onnx", "onnxscript"):
                raise ImportError(f"{name} is blocked: the dashboard must run without it")
            return None

    sys.meta_path.insert(0, NoTorch())
    try:
        import torch  # noqa: F401
        blocked = False
    except ImportError:
        blocked = True

    from streamlit.testing.v1 import AppTest
    out = {"blocked": blocked, "pages": {}}
    main, pages = sys.argv[1], sys.argv[2:]
    for page in pages:
        at = AppTest.from_file(main, default_timeout=120).run()  # the router, then the page
        if not page.endswith("home.py"):
            at.switch_page(page).run()
        out["pages"][page] = {"exceptions": [str(e.value)[:500] for e in at.exception],
                              "errors": [str(e.value)[:300] for e in at.error]}
    out["torch_loaded"] = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
    out["heavy_loaded"] = sorted(m for m in ("pandas", "pyarrow") if m in sys.modules)
    print("RESULT " + json.dumps(out))
""")


def test_every_page_runs_with_torch_unimportable(tmp_path):
    script = tmp_path / "no_torch.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(script), str(ROOT / "streamlit_app.py"), *PAGES], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
    assert line, f"no result (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    res = json.loads(line[len("RESULT "):])
    assert res["blocked"], "the import blocker did not work"
    assert res["torch_loaded"] == []
    # pandas + pyarrow would add ~70 MB to a small host's server (st.dataframe, or dicts in a component's data)
    assert res["heavy_loaded"] == [], res["heavy_loaded"]
    for page, r in res["pages"].items():
        assert r["exceptions"] == [], f"{page}: {r['exceptions']}"
        assert not any("torch" in e.lower() for e in r["errors"]), f"{page}: {r['errors']}"
        assert not any(UNEXPECTED in e for e in r["errors"]), f"{page}: the router caught an error: {r['errors']}"
