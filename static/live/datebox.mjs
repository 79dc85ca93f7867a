// The date box, live: each keystroke tokenises the text and runs the greedy loop in the browser (the additive
// model's GRU state, or the Transformer's key/value cache), and the output and its alignment follow. Enter sends
// the text to Python, so the page reruns with it (and the URL keeps it).

import { now, record } from "./runtime.mjs";
import { decodeText, loadSeqModel } from "./dates.mjs";
import { coalesce, el, fmt, loadAll, mountOnce, okStatus, report, statusLine } from "./view.mjs";

const MAX_INPUT = 200; // the box never holds more; the model reads at most max_src_len of it anyway

function show(c) {
  return c === " " ? "␣" : c;
}

function drawHeat(canvas, r) {
  const S = r.srcTokens.length, T = r.outTokens.length;
  const cell = 18, left = 52, top = 20;
  const dpr = globalThis.devicePixelRatio || 1;
  const w = left + S * cell + 4, h = top + T * cell + 4;
  canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
  canvas.style.width = `${w}px`; canvas.style.height = `${h}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = "12px monospace"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
  ctx.fillStyle = getComputedStyle(canvas).color || "#222";
  for (let j = 0; j < S; j++) ctx.fillText(show(r.srcTokens[j]), left + j * cell + cell / 2, top / 2);
  ctx.textAlign = "right";
  for (let t = 0; t < T; t++) ctx.fillText(r.outTokens[t], left - 6, top + t * cell + cell / 2);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < S; j++) {
      const a = Math.min(1, Math.max(0, r.cross[t][j]));
      ctx.fillStyle = `rgba(31, 119, 180, ${a.toFixed(3)})`; // one blue, its opacity the weight
      ctx.fillRect(left + j * cell + 1, top + t * cell + 1, cell - 2, cell - 2);
    }
  }
}

function make(host, component) {
  const data = component.data || {};
  const S = data.strings || {};
  const root = el("div", { class: "bml-live bml-dates", "data-testid": `live-dates-${data.kind}` });
  const col = el("div", { class: "col" });
  const input = el("input", { type: "text", maxlength: MAX_INPUT, spellcheck: "false", autocomplete: "off",
    placeholder: fmt(S, "placeholder"), "aria-label": fmt(S, "label"), "data-testid": "live-date-input" });
  input.value = String(data.text || "").slice(0, MAX_INPUT);
  const hint = el("div", { class: "hint" }, fmt(S, "hint"));
  const output = el("div", { class: "output", "data-testid": "live-date-output" });
  const error = el("div", { class: "error", "data-testid": "live-date-error" });
  const heat = el("canvas", { class: "heat", "data-testid": "live-date-alignment", "aria-label": fmt(S, "alignment") });
  const caption = el("div", { class: "hint" }, fmt(S, "alignment"));
  const timing = el("div", { class: "timing", "data-testid": "live-date-timing" });
  col.append(input, hint, output, error, caption, heat, timing);
  root.append(col);
  host.append(root);

  const c = { component, model: null, updates: 0, lastSent: data.text || "" };
  async function decode() {
    if (!c.model) return;
    const t0 = now();
    const r = await decodeText(c.model, input.value);
    if (r.error) {
      output.textContent = "";
      delete output.dataset.ids;
      error.textContent = r.error === "chars" ? fmt(S, "error_chars", { n: r.chars.length,
        chars: r.chars.map((ch) => (ch.trim() && ch.codePointAt(0) > 31 ? `'${ch}'` :
          `U+${ch.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}`)).join(", ") })
        : r.error === "long" ? fmt(S, "error_long", { n: r.n, max: r.max }) : fmt(S, "error_empty");
      heat.width = 0; heat.height = 0;
      statusLine(timing, S, "ok", { ms: now() - t0 });
      return;
    }
    output.textContent = r.output;
    output.dataset.ids = r.ids.join(",");
    output.classList.toggle("rejected", !r.verdict.ok); // never shown as an answer: struck through, with the reason
    output.dataset.verdict = r.verdict.ok ? "ok" : r.verdict.key;
    error.textContent = r.verdict.ok ? "" : fmt(S, "rejected", { reason: fmt(data.verdicts || {}, r.verdict.key,
      r.verdict.fields) });
    drawHeat(heat, r);
    const ms = now() - t0;
    record(`dates-${data.kind}`, ms);
    c.updates += 1;
    root.dataset.updates = String(c.updates);
    statusLine(timing, S, "ok", { ms });
  }
  const job = coalesce(decode);

  statusLine(timing, S, "loading");
  loadAll(data, () => loadSeqModel(data.ort, data.models, data.kind))
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

  const onInput = () => job.kick();
  const onKey = (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      c.lastSent = input.value;
      c.component.setStateValue("text", input.value);
    }
  };
  input.addEventListener("input", onInput);
  input.addEventListener("keydown", onKey);
  c.update = (comp) => {
    const t = String((comp.data || {}).text || "");
    if (t !== c.lastSent && document.activeElement !== host.host && t !== input.value) { // a new value from Python
      input.value = t.slice(0, MAX_INPUT);
      c.lastSent = t;
      job.kick();
    }
  };
  c.destroy = () => {
    input.removeEventListener("input", onInput);
    input.removeEventListener("keydown", onKey);
    root.remove();
  };
  return c;
}

export default function render(component) {
  return mountOnce(component, make);
}
