// The live drawing pad: while the pen moves, the drawing is preprocessed as MNIST was (mnist.mjs) and run through
// the models in the browser. mode "autoencoder": the text's MLP and the conv autoencoder reconstruct, with error
// maps and the classifier's label. mode "discriminator": D's probability that the drawing is a real digit, and the
// classifier's label. Python hears from the pad only when a stroke ends (the PNG, as ui/canvas.py's pad sends it)
// or Clear is pressed, so Streamlit reruns then and not during a stroke.

import { f32, loadModel, now, record, run } from "./runtime.mjs";
import { errorMap, paint, preprocessInside, softmax } from "./mnist.mjs";
import { coalesce, digitFigure, el, fmt, loadAll, mountOnce, okStatus, pct, report, statusLine } from "./view.mjs";

const ROLES = {
  autoencoder: ["mlp_enc", "mlp_dec", "conv_enc", "conv_dec", "classifier"],
  discriminator: ["discriminator", "classifier"],
};

function make(host, component) {
  const data = component.data || {};
  const S = data.strings || {};
  const mode = data.mode === "discriminator" ? "discriminator" : "autoencoder";
  const size = data.size || 224;
  const root = el("div", { class: `bml-live bml-pad mode-${mode}`, "data-testid": "live-pad" });
  const left = el("div", { class: "col" });
  const canvas = el("canvas", { width: size, height: size, class: "draw", "aria-label": fmt(S, "canvas"),
    "data-testid": "live-pad-canvas", style: `width:${size}px;height:${size}px` });
  const clear = el("button", { type: "button", class: "clear", "data-testid": "live-pad-clear" }, fmt(S, "clear"));
  const hint = el("span", { class: "hint" }, fmt(S, "hint"));
  const row = el("div", { class: "row" });
  row.append(clear, hint);
  left.append(canvas, row);

  const out = el("div", { class: "out", "data-testid": mode === "autoencoder" ? "live-recon" : "live-judge" });
  const figs = {};
  const grid = el("div", { class: "figs" });
  figs.input = digitFigure("live-input", fmt(S, "input"));
  grid.append(figs.input.fig);
  if (mode === "autoencoder") {
    for (const m of ["mlp", "conv"]) {
      figs[m] = digitFigure(`live-recon-${m}`, fmt(S, m));
      figs[`${m}_err`] = digitFigure(`live-error-${m}`, fmt(S, "error"));
      grid.append(figs[m].fig, figs[`${m}_err`].fig);
    }
  }
  const verdict = el("div", { class: "verdict", "data-testid": "live-verdict" });
  const label = el("div", { class: "label", "data-testid": "live-label" });
  const note = el("div", { class: "note", "data-testid": "live-note" });
  const timing = el("div", { class: "timing", "data-testid": "live-timing" });
  out.append(grid);
  if (mode === "discriminator") out.append(verdict);
  out.append(label, note, timing);
  root.append(left, out);
  host.append(root);

  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const wipe = () => { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, size, size); };
  wipe();
  ctx.strokeStyle = "#fff"; ctx.lineWidth = data.stroke || 18; ctx.lineCap = "round"; ctx.lineJoin = "round";

  const c = { component, models: null, drawing: false, inked: false, updates: 0, last: null, dirty: null };
  // where the pen has been, grown by its half-width and a pixel of antialiasing: the rest is untouched paper
  const reach = (x, y) => {
    const h = ctx.lineWidth / 2 + 2, d = c.dirty;
    c.dirty = d ? [Math.min(d[0], x - h), Math.min(d[1], y - h), Math.max(d[2], x + h), Math.max(d[3], y + h)]
      : [x - h, y - h, x + h, y + h];
  };
  statusLine(timing, S, "loading");
  const names = ROLES[mode];
  loadAll(data, () => Promise.all(names.map((r) => loadModel(data.ort, data.models[r], r))))
    .then(({ info, models }) => {
      c.models = Object.fromEntries(names.map((r, i) => [r, models[i]]));
      root.dataset.runtime = "browser";
      timing.textContent = "";
      report(c.component, okStatus(info));
      if (c.inked) job.kick();
    })
    .catch((status) => {
      root.dataset.runtime = "server";
      statusLine(timing, S, "server", { reason: status.reason });
      report(c.component, status);
    });

  async function compute() {
    if (!c.models || !c.inked) return;
    const t0 = now();
    // only the rectangle the pen has touched is read and walked (preprocessInside gives what the whole would)
    const d = c.dirty || [0, 0, size, size];
    const x0 = Math.max(0, Math.floor(d[0])), y0 = Math.max(0, Math.floor(d[1]));
    const x1 = Math.min(size, Math.ceil(d[2])), y1 = Math.min(size, Math.ceil(d[3]));
    if (x1 <= x0 || y1 <= y0) { // the pen stayed off the canvas (pointer capture follows it outside)
      note.textContent = fmt(S, "blank");
      return;
    }
    const img = ctx.getImageData(x0, y0, x1 - x0, y1 - y0);
    const p = preprocessInside(img.data, x0, y0, x1 - x0, y1 - y0, size, size);
    if (p.error) {
      note.textContent = fmt(S, p.error);
      return;
    }
    note.textContent = "";
    const x = f32(p.x, [1, 1, 28, 28]);
    const m = c.models;
    const results = {};
    if (mode === "autoencoder") {
      for (const k of ["mlp", "conv"]) {
        const z = (await run(m[`${k}_enc`], { [m[`${k}_enc`].inputNames[0]]: x })).z;
        results[k] = (await run(m[`${k}_dec`], { [m[`${k}_dec`].inputNames[0]]: z })).image.data;
      }
    } else {
      results.logit = (await run(m.discriminator, { [m.discriminator.inputNames[0]]: x })).logit.data[0];
    }
    const logits = (await run(m.classifier, { [m.classifier.inputNames[0]]: x })).logits.data;
    // paint
    paint(figs.input.canvas, p.x);
    if (mode === "autoencoder") {
      for (const k of ["mlp", "conv"]) {
        const e = errorMap(results[k], p.x);
        paint(figs[k].canvas, results[k]);
        paint(figs[`${k}_err`].canvas, e.map, "error");
        figs[k].caption.textContent = `${fmt(S, k)} · ${fmt(S, "mse", { mse: e.mse.toFixed(4) })}`;
        figs[k].canvas.dataset.mse = e.mse.toFixed(6);
      }
    } else {
      const prob = 1 / (1 + Math.exp(-results.logit));
      verdict.textContent = fmt(S, "verdict", { p: prob.toFixed(2) });
      verdict.dataset.value = prob.toFixed(4);
    }
    const probs = softmax(logits);
    let best = 0;
    for (let i = 1; i < probs.length; i++) if (probs[i] > probs[best]) best = i;
    label.textContent = fmt(S, "label", { label: best, conf: pct(probs[best]) });
    label.dataset.value = String(best);
    const ms = now() - t0;
    record(`pad-${mode}`, ms);
    c.updates += 1;
    root.dataset.updates = String(c.updates);
    statusLine(timing, S, "ok", { ms });
  }
  const job = coalesce(compute);

  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * size / r.width, (e.clientY - r.top) * size / r.height];
  };
  const down = (e) => {
    c.drawing = true; c.inked = true;
    canvas.setPointerCapture?.(e.pointerId);
    const [x, y] = at(e);
    ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x + 0.01, y); ctx.stroke();
    c.last = [x, y]; reach(x, y);
    job.kick();
  };
  const move = (e) => {
    if (!c.drawing) return;
    const [x, y] = at(e);
    // the new segment only (round caps join it to the last): re-stroking the whole path grows with its length
    ctx.beginPath(); ctx.moveTo(...c.last); ctx.lineTo(x, y); ctx.stroke();
    c.last = [x, y]; reach(x, y);
    job.kick();
  };
  const up = async () => {
    if (!c.drawing) return;
    c.drawing = false;
    try {
      await job.now(); // the live result of the finished stroke, then the one message to Python
    } finally { // which goes out even if the live view failed: the server path must not depend on it
      if (c.inked) c.component.setStateValue("png", canvas.toDataURL("image/png"));
    }
  };
  const onClear = () => {
    wipe(); c.inked = false; c.dirty = null;
    for (const f of Object.values(figs)) f.canvas.getContext("2d").clearRect(0, 0, 28, 28);
    label.textContent = ""; verdict.textContent = ""; note.textContent = "";
    if (c.models) timing.textContent = "";
    c.component.setStateValue("png", "");
  };
  canvas.addEventListener("pointerdown", down);
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", up);
  canvas.addEventListener("pointercancel", up);
  clear.addEventListener("click", onClear);
  c.destroy = () => {
    canvas.removeEventListener("pointerdown", down);
    canvas.removeEventListener("pointermove", move);
    canvas.removeEventListener("pointerup", up);
    canvas.removeEventListener("pointercancel", up);
    clear.removeEventListener("click", onClear);
    root.remove();
  };
  return c;
}

export default function render(component) {
  return mountOnce(component, make);
}
