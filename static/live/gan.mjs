// The GAN, live: drag the slider through the straight path between two noise vectors (from Python's seeds), or
// start a random walk in z, and G's digit, the classifier's label and D's verdict follow in the browser. Python
// hears the slider's position when it is released (value = {t}) and the walk's z when it stops (value = {z}).

import { f32, loadModel, now, record, run } from "./runtime.mjs";
import { paint, softmax } from "./mnist.mjs";
import { coalesce, digitFigure, el, fmt, loadAll, mountOnce, okStatus, pct, report, statusLine } from "./view.mjs";

/** A small seeded generator of standard normal numbers (mulberry32 + Box-Muller). */
function normals(seed) {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

const STEP = 0.12; // radians per walk step: z <- z cos a + n sin a keeps z ~ N(0, I) if z and n are

function make(host, component) {
  const data = component.data || {};
  const S = data.strings || {};
  const root = el("div", { class: "bml-live bml-gan", "data-testid": "live-gan" });
  const fig = digitFigure("live-gan-image", fmt(S, "generated"), 168);
  const out = el("div", { class: "out" });
  const label = el("div", { class: "label", "data-testid": "live-gan-label" });
  const verdict = el("div", { class: "verdict", "data-testid": "live-gan-verdict" });
  const sliderRow = el("label", { class: "row" });
  const slider = el("input", { type: "range", min: 0, max: 1000, step: 1, "data-testid": "live-gan-t",
    "aria-label": fmt(S, "path") });
  const tText = el("span", { class: "hint", "data-testid": "live-gan-tvalue" });
  sliderRow.append(el("span", {}, fmt(S, "path")), slider, tText);
  const walkBtn = el("button", { type: "button", "data-testid": "live-gan-walk" }, fmt(S, "walk"));
  const timing = el("div", { class: "timing", "data-testid": "live-gan-timing" });
  out.append(label, verdict, sliderRow, el("div", { class: "row" }), timing);
  out.children[3].append(walkBtn);
  root.append(fig.fig, out);
  host.append(root);

  const c = { component, models: null, z: null, walking: false, updates: 0, rand: normals(data.walk_seed || 0) };
  const dim = () => (c.component.data.z_from || []).length;
  const along = (t) => {
    const d = c.component.data;
    return d.z_from.map((a, i) => (1 - t) * a + t * d.z_to[i]);
  };
  const setT = (t) => { slider.value = String(Math.round(t * 1000)); tText.textContent = `t = ${t.toFixed(2)}`; };
  setT(Math.min(1, Math.max(0, data.t || 0)));
  c.z = data.z || along(data.t || 0);

  async function generate() {
    if (!c.models || !c.z) return;
    const t0 = now(), m = c.models;
    const img = (await run(m.generator, { [m.generator.inputNames[0]]: f32(c.z, [1, dim()]) })).image;
    const x = f32(img.data, [1, 1, 28, 28]);
    const [dOut, cOut] = [await run(m.discriminator, { [m.discriminator.inputNames[0]]: x }),
      await run(m.classifier, { [m.classifier.inputNames[0]]: x })];
    paint(fig.canvas, img.data);
    const probs = softmax(cOut.logits.data);
    let best = 0;
    for (let i = 1; i < probs.length; i++) if (probs[i] > probs[best]) best = i;
    const pReal = 1 / (1 + Math.exp(-dOut.logit.data[0]));
    label.textContent = fmt(S, "label", { label: best, conf: pct(probs[best]) });
    label.dataset.value = String(best);
    verdict.textContent = fmt(S, "verdict", { p: pReal.toFixed(2) });
    verdict.dataset.value = pReal.toFixed(4);
    const ms = now() - t0;
    record("gan", ms);
    c.updates += 1;
    root.dataset.updates = String(c.updates);
    statusLine(timing, S, "ok", { ms });
  }
  const job = coalesce(generate);

  statusLine(timing, S, "loading");
  const roles = ["generator", "discriminator", "classifier"];
  loadAll(data, () => Promise.all(roles.map((r) => loadModel(data.ort, data.models[r], r))))
    .then(({ info, models }) => {
      c.models = Object.fromEntries(roles.map((r, i) => [r, models[i]]));
      root.dataset.runtime = "browser";
      report(c.component, okStatus(info));
      job.kick();
    })
    .catch((status) => {
      root.dataset.runtime = "server";
      statusLine(timing, S, "server", { reason: status.reason });
      report(c.component, status);
    });

  const onInput = () => {
    if (c.walking) stopWalk(false);
    const t = Number(slider.value) / 1000;
    setT(t);
    c.z = along(t);
    job.kick();
  };
  const onChange = () => c.component.setStateValue("value", { t: Number(slider.value) / 1000 });
  function walkStep() {
    if (!c.walking) return;
    const ca = Math.cos(STEP), sa = Math.sin(STEP);
    c.z = c.z.map((v) => v * ca + c.rand() * sa);
    job.kick();
    c.frame = requestAnimationFrame(walkStep);
  }
  function stopWalk(commit) {
    c.walking = false;
    cancelAnimationFrame(c.frame);
    walkBtn.textContent = fmt(S, "walk");
    walkBtn.dataset.walking = "0";
    if (commit) c.component.setStateValue("value", { z: c.z.map((v) => Math.round(v * 1e5) / 1e5) });
  }
  const onWalk = () => {
    if (c.walking) { stopWalk(true); return; }
    c.walking = true;
    walkBtn.textContent = fmt(S, "stop");
    walkBtn.dataset.walking = "1";
    c.frame = requestAnimationFrame(walkStep);
  };
  slider.addEventListener("input", onInput);
  slider.addEventListener("change", onChange);
  walkBtn.addEventListener("click", onWalk);
  c.update = (comp) => {
    const d = comp.data || {};
    const key = JSON.stringify([d.z_from?.slice(0, 3), d.z_to?.slice(0, 3), d.t, d.z ? d.z.slice(0, 3) : null]);
    if (key !== c.key && !c.walking) { // new seeds or a committed value from Python: show that point
      c.key = key;
      setT(Math.min(1, Math.max(0, d.t || 0)));
      c.z = d.z || along(d.t || 0);
      job.kick();
    }
  };
  c.destroy = () => {
    stopWalk(false);
    slider.removeEventListener("input", onInput);
    slider.removeEventListener("change", onChange);
    walkBtn.removeEventListener("click", onWalk);
    root.remove();
  };
  return c;
}

export default function render(component) {
  return mountOnce(component, make);
}
