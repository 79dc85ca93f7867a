// What the four live views share: building DOM from Python's strings (always as text, never as HTML), the
// "where and how long" line, the runtime report to Python, and per-host state across Streamlit reruns.
//
// Streamlit (components v2) calls a component's default function again on every rerun whose data changed, with
// the same parentElement, and calls only the last returned cleanup, on unmount. So each view keeps one controller
// per host and updates it in place.

import { loadOrt, mark, msText } from "./runtime.mjs";

/** An element with attributes; `text` goes in as textContent (the page's strings and the user's input are text). */
export function el(tag, attrs = {}, text = null) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  if (text !== null) e.textContent = text;
  return e;
}

/** A string from Python (`strings[key]`) with {name} fields filled in; the key itself when it is missing. */
export function fmt(strings, key, fields = {}) {
  const t = strings && typeof strings[key] === "string" ? strings[key] : key;
  return t.replace(/\{(\w+)\}/g, (m, k) => (k in fields ? String(fields[k]) : m));
}

export const pct = (p) => `${Math.round(100 * p)} %`;

const controllers = new WeakMap(); // host (shadow root or div) -> controller

/** The controller of this host, made by `make(host, component)` on the first call; then `update(component)`. */
export function mountOnce(component, make) {
  const host = component.parentElement;
  let c = controllers.get(host);
  if (!c) {
    mark(`mount:${(component.data || {}).view}`);
    c = make(host, component);
    controllers.set(host, c);
  }
  c.component = component;
  c.update?.(component);
  return () => {
    c.destroy?.();
    controllers.delete(host);
  };
}

/** The runtime status this component will report: {ok, scope, version, backend, threads, load_ms, reason}. */
export function okStatus(info) {
  return { ok: true, scope: "runtime", version: info.version, backend: info.backend, threads: info.threads,
    load_ms: Math.round(info.ms) };
}

export function failStatus(err, scope = "runtime") {
  const reason = String((err && err.message) || err || "unknown error").slice(0, 300);
  return { ok: false, scope, reason };
}

function same(a, b) {
  return !!a && !!b && a.ok === b.ok && a.scope === b.scope && (a.version || null) === (b.version || null);
}

/** Tell Python (one rerun) unless it already knows this status, from this component or from the session. */
export function report(component, status) {
  const d = component.data || {};
  if (same(status, d.reported) || (!d.reported && same(status, d.known))) return false;
  component.setStateValue("runtime", status);
  return true;
}

/** The status line: "in your browser, 1.8 ms", "loading…", or the server fallback with its reason. */
export function statusLine(node, strings, state, extra = {}) {
  node.dataset.state = state;
  if (state === "ok") node.textContent = msText(fmt(strings, "in_browser", { ms: "{ms}" }), extra.ms);
  else if (state === "loading") node.textContent = fmt(strings, "loading");
  else node.textContent = fmt(strings, "server", { reason: extra.reason || "" });
}

/** Load onnxruntime-web and the given models; resolves {models} or rejects with {status} for the report. */
export async function loadAll(data, loaders) {
  if (!data.ort) throw failStatus(new Error(data.problem || "the browser runtime is not served by this app"));
  if (data.problem) throw failStatus(new Error(data.problem), "model");
  let info;
  try {
    info = await loadOrt(data.ort);
  } catch (e) {
    throw failStatus(e, "runtime");
  }
  try {
    const models = await loaders();
    mark(`ready:${data.view}`);
    return { info, models };
  } catch (e) {
    throw failStatus(e, "model");
  }
}

/** Run `work` at most once per animation frame, never two at a time; the last request always runs. */
export function coalesce(work) {
  let busy = false, pending = false, frame = 0;
  const go = async () => {
    frame = 0;
    if (busy) { pending = true; return; }
    busy = true;
    try { await work(); } finally {
      busy = false;
      if (pending) { pending = false; kick(); }
    }
  };
  const kick = () => { if (!frame) frame = requestAnimationFrame(go); };
  return { kick, now: go, get busy() { return busy; } };
}

/** A 28x28 canvas shown large with crisp pixels, inside a captioned figure. */
export function digitFigure(testid, caption, px = 96) {
  const fig = el("figure", { class: "digit" });
  const c = el("canvas", { width: 28, height: 28, "data-testid": testid, style: `width:${px}px;height:${px}px` });
  const cap = el("figcaption", {}, caption);
  fig.append(c, cap);
  return { fig, canvas: c, caption: cap };
}
