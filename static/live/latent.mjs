// The 2-D latent map, live: the example digits' codes as dots coloured by label; the point under the pointer is
// decoded in the browser while it hovers or drags. A click or a released drag sends that point to Python (z) so
// the page reruns with it; leaving the map shows the committed point again.

import { f32, loadModel, now, record, run } from "./runtime.mjs";
import { paint } from "./mnist.mjs";
import { coalesce, digitFigure, el, fmt, loadAll, mountOnce, okStatus, report, statusLine } from "./view.mjs";

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
  "#17becf"]; // plotly's default palette, as core/figures.py's latent map

function make(host, component) {
  const data = component.data || {};
  const S = data.strings || {};
  const size = data.size || 360;
  const root = el("div", { class: "bml-live bml-latent", "data-testid": "live-latent" });
  const map = el("canvas", { width: size, height: size, class: "map", "aria-label": fmt(S, "map"),
    "data-testid": "live-latent-map", style: `width:${size}px;height:${size}px` });
  const out = el("div", { class: "out" });
  const fig = digitFigure("live-latent-digit", fmt(S, "decoded"), 140);
  const zline = el("div", { class: "label", "data-testid": "live-latent-z" });
  const hint = el("div", { class: "hint" }, fmt(S, "hint"));
  const timing = el("div", { class: "timing", "data-testid": "live-latent-timing" });
  out.append(fig.fig, zline, hint, timing);
  root.append(map, out);
  host.append(root);

  const c = { component, model: null, hover: null, dragging: false, updates: 0 };
  const ctx = map.getContext("2d");
  const range = () => {
    const d = c.component.data || data;
    return { lo: d.lo || [-3, -3], hi: d.hi || [3, 3] };
  };
  const toPx = ([z1, z2]) => {
    const { lo, hi } = range();
    return [(z1 - lo[0]) / (hi[0] - lo[0]) * size, size - (z2 - lo[1]) / (hi[1] - lo[1]) * size];
  };
  const toZ = (e) => {
    const r = map.getBoundingClientRect(), { lo, hi } = range();
    const fx = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
    const fy = Math.min(1, Math.max(0, (e.clientY - r.top) / r.height));
    return [lo[0] + fx * (hi[0] - lo[0]), lo[1] + (1 - fy) * (hi[1] - lo[1])];
  };
  function drawMap(cursor) {
    const d = c.component.data || data;
    ctx.clearRect(0, 0, size, size);
    const codes = d.codes || [], labels = d.labels || [];
    for (let i = 0; i < codes.length; i++) {
      const [x, y] = toPx(codes[i]);
      ctx.fillStyle = COLORS[labels[i] % 10];
      ctx.globalAlpha = 0.7;
      ctx.beginPath(); ctx.arc(x, y, 2.5, 0, 2 * Math.PI); ctx.fill();
    }
    ctx.globalAlpha = 1;
    const mark = (z, color, r) => {
      const [x, y] = toPx(z);
      ctx.strokeStyle = color; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI); ctx.stroke();
    };
    if (d.mark) mark(d.mark, "#000", 7);
    if (d.value) mark(d.value, "#d62728", 6);
    if (cursor) {
      const [x, y] = toPx(cursor);
      ctx.strokeStyle = "#444"; ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(x - 8, y); ctx.lineTo(x + 8, y); ctx.moveTo(x, y - 8); ctx.lineTo(x, y + 8);
      ctx.stroke();
    }
  }

  async function decode() {
    const d = c.component.data || data;
    const z = c.hover || d.value;
    if (!c.model || !z) return;
    const t0 = now();
    const out = await run(c.model, { [c.model.inputNames[0]]: f32(z, [1, 2]) });
    paint(fig.canvas, out.image.data);
    drawMap(c.hover);
    const ms = now() - t0;
    zline.textContent = fmt(S, "z", { z1: z[0].toFixed(2), z2: z[1].toFixed(2) });
    zline.dataset.value = `${z[0].toFixed(4)},${z[1].toFixed(4)}`;
    if (c.hover) { record("latent", ms); c.updates += 1; root.dataset.updates = String(c.updates); }
    else record("latent-committed", ms);
    statusLine(timing, S, "ok", { ms });
  }
  const job = coalesce(decode);

  drawMap(null);
  statusLine(timing, S, "loading");
  loadAll(data, () => loadModel(data.ort, data.models.decoder, "decoder"))
    .then(({ info, models }) => {
      c.model = models;
      root.dataset.runtime = "browser";
      report(c.component, okStatus(info));
      job.kick();
    })
    .catch((status) => {
      root.dataset.runtime = "server";
      statusLine(timing, S, "server", { reason: status.reason });
      report(c.component, status);
    });

  const move = (e) => { c.hover = toZ(e); job.kick(); };
  const down = (e) => { c.dragging = true; map.setPointerCapture?.(e.pointerId); move(e); };
  const up = (e) => {
    if (!c.dragging) return;
    c.dragging = false;
    const z = toZ(e);
    c.component.setStateValue("z", [Math.round(z[0] * 100) / 100, Math.round(z[1] * 100) / 100]);
  };
  const leave = () => { if (!c.dragging) { c.hover = null; job.kick(); } };
  map.addEventListener("pointermove", move);
  map.addEventListener("pointerdown", down);
  map.addEventListener("pointerup", up);
  map.addEventListener("pointercancel", up);
  map.addEventListener("pointerleave", leave);
  c.update = () => { if (!c.hover) { drawMap(null); job.kick(); } };
  c.destroy = () => {
    map.removeEventListener("pointermove", move);
    map.removeEventListener("pointerdown", down);
    map.removeEventListener("pointerup", up);
    map.removeEventListener("pointercancel", up);
    map.removeEventListener("pointerleave", leave);
    root.remove();
  };
  return c;
}

export default function render(component) {
  return mountOnce(component, make);
}
