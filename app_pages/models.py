"""Models: every exported ONNX file — size, parameters, opset, I/O, operators, card metrics, sha256 — with parity
and latency on demand, downloads and code snippets."""

import json

import streamlit as st

import ui
from core import EXPORTED
from core.figures import bars
from core.manifest import read_manifest
from core.runtime import int8
from core.sizecalc import human_bytes
from ui import tools

ui.header("models")
t, lang = ui.t, ui.lang()

files = {}
with ui.guard():  # an unreadable or malformed manifest: say so, keep the page alive
    files = read_manifest()["files"]
names = sorted(k for k in files if k.endswith(".onnx") and not int8.is_int8(k))  # int8 twins: the switch below
if not names:
    st.info(t("models.none"))
    ui.stop()

# Overview: one row per file; loading a session verifies its sha256 against the manifest.
rows = []
for name in names:
    entry = files[name]
    m = ui.model(name)
    card = m.card if m else {}
    twin = int8.int8_twin(name, files)
    rows.append({
        "file": name, "ok": m is not None, "size": human_bytes(entry["bytes"]),
        "int8": (f"{human_bytes(files[twin]['bytes'])} ({files[twin]['bytes'] / max(1, entry['bytes']):.0%})"
                 if twin else "—"),
        "parameters": card.get("parameters"), "opset": entry.get("opset"),
        "operators": sum((entry.get("ops") or {}).values()) or None,
        "runs_on": ", ".join(ui.short(p) for p in (m.providers if m else [])),
    })
ui.table(rows, {"parameters": "r", "operators": "r", "opset": "r", "ok": "c"},
         headers={k: t(f"models.col_{k}") for k in rows[0]})

c1, c2 = st.columns([3, 2])
fp32_file = c1.selectbox(t("models.pick"), names, key="model", bind=ui.BIND)
twin = int8.int8_twin(fp32_file, files)
precision = "fp32"
if twin:
    with c2:
        precision = ui.url_choice(st.radio, t("models.precision"), ("fp32", "int8"), key="precision",
                                  default="fp32", format_func=str, horizontal=True, help=t("models.precision_help"))
name = twin if precision == "int8" else fp32_file
entry = files[name]
m = ui.model(name)
if m is None:
    ui.stop()
card = m.card
if twin:
    q = int8.variant_from_card(fp32_file, files, ui.model(twin).card if ui.model(twin, quiet=True) else {})
    with st.container(border=True):
        st.markdown(t("models.int8_line", fp32=human_bytes(q.fp32_bytes), int8=human_bytes(q.int8_bytes),
                      ratio=f"{q.int8_bytes / max(1, q.fp32_bytes):.0%}"))
        if q.stale:
            st.warning(t("models.int8_stale", cmd=f"python -m core.quantize {fp32_file.split('.')[0]}"))
        c1, c2 = st.columns([3, 2])
        with c1:
            rows = int8.drift_rows(q.card, lang)
            ui.table([{k: r[k] for k in ("metric", "fp32", "int8", "change")} for r in rows],
                     {"fp32": "r", "int8": "r", "change": "r"},
                     headers={"metric": t("models.drift_metric"), "fp32": "fp32", "int8": "int8",
                              "change": t("models.drift_change")})
            if rows:
                st.caption(t("models.drift_data", data=ui.esc(rows[0]["data"])))
        with c2:
            ui.table(q.speed, {"fp32_ms": "r", "int8_ms": "r", "speedup": "r"},
                     headers={"batch": t("models.batch"), "fp32_ms": "fp32 (ms)", "int8_ms": "int8 (ms)",
                              "speedup": t("models.speedup")})
            st.caption(t("models.speed_caption"))

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
                res = tools.parity(m, EXPORTED, reference_of=fp32_file)
            results[("parity",) + where] = (res, timer.ms, list(m.providers))
    if ("parity",) + where in results:
        res, ms, provs = results[("parity",) + where]
        ok = all(r["ok"] for r in res)
        on = ", ".join(ui.short(p) for p in provs)
        if name != fp32_file:  # int8 against PyTorch's fp32 outputs: a drift, not a pass or fail
            st.info(t("models.parity_int8", on=on))
        else:
            (st.success if ok else st.error)(t("models.parity_ok" if ok else "models.parity_bad", on=on))
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
