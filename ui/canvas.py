"""A small drawing pad: an inline ``st.components.v2`` component (HTML + JS, no build step, no extra package).

The pad draws light strokes on a dark square (MNIST's polarity) and, on each lifted stroke, sends the whole drawing
back as a PNG data URL in its ``png`` state; "Clear" sends an empty string. The Python side preprocesses that PNG
exactly like an uploaded image.
"""

from __future__ import annotations

import streamlit as st

_HTML = """
<div class="pad">
  <canvas width="224" height="224" aria-label="drawing pad: draw a digit"></canvas>
  <div class="row">
    <button type="button" class="clear"></button>
    <span class="hint"></span>
  </div>
</div>
"""

_CSS = """
.pad { display: flex; flex-direction: column; gap: 6px; font-family: var(--st-font, sans-serif);
       width: 100%; max-width: 224px; }
/* the canvas scales down with its column (a narrow column or a phone) and keeps its 224x224 drawing buffer */
canvas { background: #000; border-radius: 6px; touch-action: none; cursor: crosshair; box-sizing: border-box;
         border: 1px solid var(--st-border-color, #ccc); width: 100%; height: auto; aspect-ratio: 1 / 1; }
.row { display: flex; align-items: center; gap: 10px; }
button { font: inherit; padding: 3px 12px; white-space: nowrap; flex: none; border-radius: 6px; cursor: pointer;
         border: 1px solid var(--st-border-color, #ccc); background: var(--st-secondary-background-color, #f0f2f6);
         color: var(--st-text-color, #222); }
.hint { font-size: 0.8rem; opacity: 0.7; }
"""

_JS = """
export default function (component) {
  const { parentElement, setStateValue, data } = component;
  const canvas = parentElement.querySelector("canvas");
  const clear = parentElement.querySelector("button.clear");
  const hint = parentElement.querySelector(".hint");
  if (clear) { clear.textContent = (data && data.clear) || "Clear"; }
  if (hint) { hint.textContent = (data && data.hint) || ""; }
  if (!canvas || canvas.dataset.ready === "1") { return; }
  canvas.dataset.ready = "1";
  const ctx = canvas.getContext("2d");
  const wipe = () => { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height); };
  wipe();
  ctx.strokeStyle = "#fff"; ctx.lineWidth = 18; ctx.lineCap = "round"; ctx.lineJoin = "round";
  let drawing = false, inked = false;
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
  };
  const down = (e) => {
    drawing = true; inked = true; canvas.setPointerCapture(e.pointerId);
    const [x, y] = at(e); ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x + 0.01, y); ctx.stroke();
  };
  const move = (e) => { if (!drawing) return; const [x, y] = at(e); ctx.lineTo(x, y); ctx.stroke(); };
  const up = () => {
    if (!drawing) return;
    drawing = false;
    if (inked) setStateValue("png", canvas.toDataURL("image/png"));
  };
  canvas.addEventListener("pointerdown", down);
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", up);
  canvas.addEventListener("pointercancel", up);
  clear.addEventListener("click", () => { wipe(); inked = false; setStateValue("png", ""); });
  return () => {
    canvas.removeEventListener("pointerdown", down);
    canvas.removeEventListener("pointermove", move);
    canvas.removeEventListener("pointerup", up);
    canvas.removeEventListener("pointercancel", up);
  };
}
"""

_pad = st.components.v2.component("bml_drawing_pad", html=_HTML, css=_CSS, js=_JS)


def drawing_pad(key: str, clear_label: str = "Clear", hint: str = "") -> str | None:
    """Mount the pad (its button and hint in the page's language); the PNG data URL of the current drawing, or None
    when nothing is drawn."""
    result = _pad(key=key, data={"clear": clear_label, "hint": hint}, default={"png": ""}, on_png_change=lambda: None,
                  height=270)
    png = result.get("png") if hasattr(result, "get") else getattr(result, "png", None)
    return png or None
