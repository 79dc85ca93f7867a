"""The vendored onnxruntime-web build under static/ort/: which files, their manifest, and a check against it.

``scripts/fetch_ort_web.py`` writes the files and the manifest; ``verify()`` is what the tests and the dashboard use
to know the files are the ones the manifest pins (a vendored binary that silently changed would be a supply-chain
hole, and a truncated one would fail in the browser with an unhelpful message).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from core import ROOT
from core.atomic import sha256_file

PACKAGE = "onnxruntime-web"
STATIC = ROOT / "static"  # served at /app/static/ when server.enableStaticServing is on
ORT_DIR = STATIC / "ort"
MANIFEST = "manifest.json"
# ort.wasm.min.mjs (the wasm-only API) imports the emscripten glue, which instantiates the SIMD build. The glue is
# the "threaded" one, but it runs single-threaded without SharedArrayBuffer (Streamlit sends no COOP/COEP headers).
ENTRY = "ort.wasm.min.mjs"
GLUE = "ort-wasm-simd-threaded.mjs"
WASM = "ort-wasm-simd-threaded.wasm"
FILES = (ENTRY, GLUE, WASM)


def read_manifest(ort_dir: str | os.PathLike = ORT_DIR) -> dict:
    """static/ort/manifest.json ({} when absent or unreadable)."""
    try:
        return json.loads((Path(ort_dir) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def verify(ort_dir: str | os.PathLike = ORT_DIR) -> list[str]:
    """Problems with the vendored files (empty when every file matches the manifest's sha256 and size)."""
    ort_dir = Path(ort_dir)
    man = read_manifest(ort_dir)
    if not man:
        return [f"{ort_dir / MANIFEST} is missing or unreadable; run: python scripts/fetch_ort_web.py"]
    problems = []
    files = man.get("files", {})
    for name in FILES:
        entry = files.get(name)
        path = ort_dir / name
        if entry is None:
            problems.append(f"{name} is not listed in {MANIFEST}")
        elif not path.is_file():
            problems.append(f"{name} is missing")
        elif path.stat().st_size != entry.get("bytes"):
            problems.append(f"{name} is {path.stat().st_size} bytes; the manifest says {entry.get('bytes')}")
        elif sha256_file(path) != entry.get("sha256"):
            problems.append(f"{name} does not match its sha256 in {MANIFEST}")
    if not (ort_dir / "LICENSE").is_file():
        problems.append("LICENSE is missing")
    return problems
