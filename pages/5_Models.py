"""Models: every exported ONNX file — size, parameters, opset, I/O, operators, card metrics, sha256 — with parity
and latency on demand, downloads and code snippets."""

import json

import streamlit as st

import ui
from core import EXPORTED
from core.figures import bars
from core.sizecalc import human_bytes
from core.manifest import read_manifest
from ui import tools

ui.setup("models", "Models", ":material/deployed_code:",
         "Every exported ONNX file, as onnxruntime sees it. Parity and latency run on the sidebar's execution "
         "provider.")

try:
    files = read_manifest().get("files", {})
except Exception as exc:  # ArtifactError for an unreadable manifest: say so, keep the page alive
    st.error(str(exc))
    files = {}
names = sorted(k for k in files if k.endswith(".onnx"))
if not names:
    st.info("No ONNX models are listed in exported/manifest.json yet. Build them with `python -m core.train all`.")
    st.stop()

# Overview: one row per file; loading a session verifies its sha256 against the manifest.
rows = []
for name in names:
    entry = files[name]
    m = ui.model(name)
    card = m.card if m else {}
    rows.append({
        "file": name, "sha256 ok": m is not None, "size": human_bytes(entry["bytes"]),
        "parameters": card.get("parameters"), "opset": entry.get("opset"),
        "operators": sum((entry.get("ops") or {}).values()) or None,
        "runs on": ", ".join(p.replace("ExecutionProvider", "") for p in (m.providers if m else [])),
    })
ui.table(rows, {"parameters": "r", "operators": "r", "opset": "r", "sha256 ok": "c"})

key = ui.param("model", names[0], str, choices=names)
name = st.selectbox("Model file", names, key=key)
entry = files[name]
m = ui.model(name)
if m is None:
    st.stop()
card = m.card

left, right = st.columns([3, 2])
with left:
    st.markdown(f"### `{name}`")
    params = f"{card['parameters']:,} parameters · " if isinstance(card.get("parameters"), int) else ""
    st.markdown(f"**{card.get('architecture', '?')}** · {params}{human_bytes(entry['bytes'])} · "
                f"opset {entry.get('opset', '?')} · IR {entry.get('ir_version', '?')}")
    st.markdown(f"sha256 `{entry['sha256']}` — :green[:material/verified: matches the manifest] · "
                f"rebuild: `{entry['rebuild']}`")
    st.markdown("**Inputs and outputs** (from onnxruntime)")
    ui.table(tools.io_table(m))
    metrics = card.get("metrics") or {}
    if metrics:
        st.markdown("**Metrics from the model card**")
        flat = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool))}
        ui.table([{"metric": k, "value": v} for k, v in flat.items()], {"value": "r"})
        nested = {k: v for k, v in metrics.items() if k not in flat}
        if nested:
            st.json(nested, expanded=False)
    with st.expander("Full model card"):
        st.json(card, expanded=1)
with right:
    ops = entry.get("ops") or {}
    if ops:
        top = sorted(ops.items(), key=lambda kv: -kv[1])
        ui.chart(ui.fig(bars, [v for _, v in top], [k for k, _ in top], title="Operators in the graph", y_title="nodes",
                      text_format="d", height=340), key=f"ops_{name}", filename=f"{name}_operators")
    st.download_button(f"Download {name}", data=lambda p=m.path: p.read_bytes(), file_name=name,
                       mime="application/octet-stream", on_click="ignore", icon=":material/download:",
                       key=f"dl_{name}")

st.subheader("On demand")
c1, c2 = st.columns(2)
with c1:
    st.markdown("**Parity**: the reference inputs stored at export time, through onnxruntime, against PyTorch's "
                "outputs stored with them.")
    if st.button("Run parity check", key="parity"):
        with ui.guard():
            with ui.Timer() as t:
                res = tools.parity(m, EXPORTED)
            ok = all(r["ok"] for r in res)
            (st.success if ok else st.error)(
                f"{'All outputs match' if ok else 'Mismatch'} (tolerance 1e-4) on {', '.join(m.providers)}.")
            ui.table(res, {"max_abs_diff": "r"})
            ui.timing("parity run", t.ms, m)
with c2:
    nkey = ui.param("runs", 50, int, lo=5, hi=1000)
    n = st.number_input("Runs", min_value=5, max_value=1000, step=5, key=nkey)
    if st.button("Measure latency", key="latency"):
        with ui.guard():
            feeds = tools.make_feeds(m)
            res = tools.latency(m, feeds, int(n))
            shapes = ", ".join(f"{k} {list(v.shape)}" for k, v in feeds.items())
            st.markdown(f"p50 **{res['p50_ms']:.2f} ms** · p95 **{res['p95_ms']:.2f} ms** · "
                        f"mean {res['mean_ms']:.2f} ms over {res['runs']} runs on {', '.join(m.providers)} "
                        f"(inputs: {shapes})")

st.subheader("Run it yourself")
snips = tools.snippets(m)
for (lang, code), tab in zip(snips.items(), st.tabs(list(snips))):
    with tab:
        st.code(code, language={"P": "python", "J": "html", "C": "csharp"}[lang[0]])
st.download_button("Download manifest.json", data=json.dumps({"files": files}, indent=2), file_name="manifest.json",
                   mime="application/json", key="dl_manifest", on_click="ignore")
