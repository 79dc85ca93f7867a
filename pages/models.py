"""Models: every exported ONNX file — size, parameters, opset, I/O, operators, card metrics, sha256 — with parity
and latency on demand, downloads and code snippets."""

import json

import streamlit as st

import ui
from core import EXPORTED
from core.figures import bars
from core.manifest import read_manifest
from core.sizecalc import human_bytes
from ui import tools

ui.header("models")
t, lang = ui.t, ui.lang()

files = {}
with ui.guard():  # an unreadable or malformed manifest: say so, keep the page alive
    files = read_manifest()["files"]
names = sorted(k for k in files if k.endswith(".onnx"))
if not names:
    st.info(t("models.none"))
    st.stop()

# Overview: one row per file; loading a session verifies its sha256 against the manifest.
rows = []
for name in names:
    entry = files[name]
    m = ui.model(name)
    card = m.card if m else {}
    rows.append({
        "file": name, "ok": m is not None, "size": human_bytes(entry["bytes"]),
        "parameters": card.get("parameters"), "opset": entry.get("opset"),
        "operators": sum((entry.get("ops") or {}).values()) or None,
        "runs_on": ", ".join(ui.short(p) for p in (m.providers if m else [])),
    })
ui.table(rows, {"parameters": "r", "operators": "r", "opset": "r", "ok": "c"},
         headers={k: t(f"models.col_{k}") for k in rows[0]})

name = st.selectbox(t("models.pick"), names, key="model", bind=ui.BIND)
entry = files[name]
m = ui.model(name)
if m is None:
    st.stop()
card = m.card

left, right = st.columns([3, 2])
with left:
    st.markdown(f"### `{name}`")
    params = t("models.n_params", n=f"{card['parameters']:,}") if isinstance(card.get("parameters"), int) else ""
    st.markdown(t("models.summary", arch=ui.esc(card.get("architecture", "?")), params=params,
                  size=human_bytes(entry["bytes"]), opset=entry.get("opset", "?"), ir=entry.get("ir_version", "?")))
    st.markdown(t("models.sha", sha=entry["sha256"], cmd=entry["rebuild"]))
    st.markdown(f"**{t('models.io')}**")
    io_rows = [dict(r, kind=t(f"models.kind_{r['kind']}")) for r in tools.io_table(m)]
    ui.table(io_rows, headers={k: t(f"models.io_{k}") for k in io_rows[0]} if io_rows else None)
    metrics = tools.flat_metrics(card.get("metrics") or {})
    if metrics:
        st.markdown(f"**{t('models.metrics')}**")
        ui.table([{"metric": k, "value": v} for k, v in metrics], {"value": "r"},
                 headers={"metric": t("models.metric"), "value": t("models.value")})
    with st.expander(t("models.full_card")):
        st.json(card, expanded=1)
with right:
    ops = entry.get("ops") or {}
    if ops:
        top = sorted(ops.items(), key=lambda kv: -kv[1])
        ui.chart(ui.fig(bars, [v for _, v in top], [k for k, _ in top], title=t("models.ops_title"),
                        y_title=t("models.nodes"), text_format="d", height=340),
                 key=f"ops_{name}", filename=t("models.file_ops", name=name))
    st.download_button(t("models.download", name=name), data=lambda p=m.path: p.read_bytes(), file_name=name,
                       mime="application/octet-stream", on_click="ignore", icon=":material/download:",
                       key=f"dl_{name}")

st.subheader(t("models.on_demand"))
c1, c2 = st.columns(2)
results = st.session_state.setdefault("models.results", {})  # kept across reruns, per file and provider
where = (name, ui.provider())
with c1:
    st.markdown(t("models.parity_intro"))
    if st.button(t("models.parity"), key="parity"):
        with ui.guard():
            with ui.Timer() as timer:
                res = tools.parity(m, EXPORTED)
            results[("parity",) + where] = (res, timer.ms, list(m.providers))
    if ("parity",) + where in results:
        res, ms, provs = results[("parity",) + where]
        ok = all(r["ok"] for r in res)
        (st.success if ok else st.error)(t("models.parity_ok" if ok else "models.parity_bad",
                                           on=", ".join(ui.short(p) for p in provs)))
        ui.table(res, {"max_abs_diff": "r"}, headers={k: t(f"models.par_{k}") for k in res[0]} if res else None)
        ui.timing(t("models.parity_timing"), ms, m)
with c2:
    n = ui.int_input(t("models.runs"), 5, 1000, 50, key="runs")
    if st.button(t("models.latency"), key="latency"):
        with ui.guard():
            feeds = tools.make_feeds(m)
            results[("latency",) + where] = (tools.latency(m, feeds, int(n)), feeds, list(m.providers))
    if ("latency",) + where in results:
        res, feeds, provs = results[("latency",) + where]
        shapes = ", ".join(f"{k} {list(v.shape)}" for k, v in feeds.items())
        st.markdown(t("models.latency_line", p50=f"{res['p50_ms']:.2f}", p95=f"{res['p95_ms']:.2f}",
                      mean=f"{res['mean_ms']:.2f}", runs=res["runs"], on=", ".join(ui.short(p) for p in provs),
                      shapes=shapes))

st.subheader(t("models.yourself"))
snips = tools.snippets(m)
for (language, code), tab in zip(snips.items(), st.tabs(list(snips))):
    with tab:
        st.code(code, language={"P": "python", "J": "html", "C": "csharp"}[language[0]])
st.download_button(t("models.download_manifest"), data=json.dumps({"files": files}, indent=2),
                   file_name="manifest.json", mime="application/json", key="dl_manifest", on_click="ignore")
