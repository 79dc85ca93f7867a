"""Helpers for driving the live JavaScript modules (static/live/) from Playwright."""

from __future__ import annotations

import base64

import numpy as np

# Evaluated in the page: the app's base URL, as static/live/runtime.mjs finds it.
BASE_JS = """() => new URL("../../", document.querySelector('script[src*="/static/js/index"]').src).href"""

# In-page record of every websocket message the page sends (installed before Streamlit opens its socket), so a test
# can say exactly when the page talked to the server, independent of when Playwright delivers its own events.
WS_HOOK = """
(() => {
  const sent = [];
  const orig = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    sent.push({ t: performance.now(), n: (data && (data.byteLength ?? data.length)) || 0 });
    return orig.call(this, data);
  };
  window.__bmlSent = sent;
})();
"""

RUN_GRAPH_JS = """
async ([ort, spec, feeds]) => {
  const base = new URL("../../", document.querySelector('script[src*="/static/js/index"]').src).href;
  const R = await import(new URL("app/static/live/runtime.mjs", base).href);
  const info = await R.loadOrt(ort);
  const model = await R.loadModel(ort, spec, spec.url);
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const T = { float32: Float32Array, int64: BigInt64Array, bool: Uint8Array };
  const inputs = {};
  for (const [name, f] of Object.entries(feeds)) {
    const raw = bytes(f.b64);
    const n = raw.byteLength / T[f.type].BYTES_PER_ELEMENT;
    const data = f.type === "bool" ? raw : new T[f.type](raw.buffer, raw.byteOffset, n);
    inputs[name] = new info.ort.Tensor(f.type, data, f.dims);
  }
  const out = await R.run(model, inputs);
  const res = {};
  for (const [name, t] of Object.entries(out)) {
    const arr = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data, Number);
    let s = "";
    const u = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
    for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode.apply(null, u.subarray(i, i + 0x8000));
    res[name] = { dims: t.dims, b64: btoa(s) };
  }
  return { version: info.version, outputs: res };
}
"""


def feed(a: np.ndarray) -> dict:
    """One numpy input as the page's RUN_GRAPH_JS reads it."""
    a = np.ascontiguousarray(a)
    kind = {np.dtype(np.float32): "float32", np.dtype(np.int64): "int64", np.dtype(bool): "bool"}[a.dtype]
    raw = a.astype(np.uint8).tobytes() if kind == "bool" else a.tobytes()
    return {"type": kind, "dims": list(a.shape), "b64": base64.b64encode(raw).decode()}


def unpack(out: dict) -> np.ndarray:
    return np.frombuffer(base64.b64decode(out["b64"]), np.float32).reshape(out["dims"])
