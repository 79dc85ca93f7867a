// The date models in the browser: the character tokeniser (core/tokenizer.py) and the greedy loop
// (core/runtime/decode.py) over the two ONNX graphs, with the Transformer's key/value cache and the GRU's state.
//
// Everything model-specific comes from the model card inside the verified ONNX file (`decoding`: vocab,
// max_src_len, max_tgt_len; `config`: n_dec_layer, n_head, d_model) and from the graphs' input names, never from
// constants here, so a retrained model with another vocabulary works unchanged.

import { bool, i64, loadModel, now, run, tensor } from "./runtime.mjs";

const SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"];
// str.isspace() in Python: what str.strip() removes (JavaScript's trim() differs on \x1c-\x1f, \x85 and \ufeff).
const PY_SPACE = new Set(["\t", "\n", "\x0b", "\x0c", "\r", "\x1c", "\x1d", "\x1e", "\x1f", " ", "\x85", "\xa0",
  "\u1680", "\u2000", "\u2001", "\u2002", "\u2003", "\u2004", "\u2005", "\u2006", "\u2007", "\u2008", "\u2009",
  "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000"]);

export function pyStrip(text) {
  const cs = Array.from(text);
  let a = 0, b = cs.length;
  while (a < b && PY_SPACE.has(cs[a])) a++;
  while (b > a && PY_SPACE.has(cs[b - 1])) b--;
  return cs.slice(a, b);
}

/** The vocabulary and limits of a model card's `decoding` section. */
export function vocabFromCard(card) {
  const dec = card && card.decoding;
  if (!dec || !Array.isArray(dec.vocab) || !dec.max_src_len || !dec.max_tgt_len) {
    throw new Error("the model card has no decoding section");
  }
  const tokens = dec.vocab;
  const index = new Map(tokens.map((t, i) => [t, i]));
  for (const s of SPECIALS) if (!index.has(s)) throw new Error(`vocabulary lacks ${s}`);
  return { tokens, index, pad: index.get("<pad>"), bos: index.get("<bos>"), eos: index.get("<eos>"),
    unk: index.get("<unk>"), maxSrc: dec.max_src_len, maxTgt: dec.max_tgt_len };
}

/** encode_source: {ids, chars} or {error: "empty" | "chars" | "long", ...} in the same order of checks. */
export function encodeSource(text, v) {
  if (typeof text !== "string") return { error: "empty" };
  const cs = pyStrip(text);
  if (!cs.length) return { error: "empty" };
  const bad = [...new Set(cs.filter((c) => !v.index.has(c) || SPECIALS.includes(c)))].sort();
  if (bad.length) return { error: "chars", chars: bad };
  if (cs.length > v.maxSrc) return { error: "long", n: cs.length, max: v.maxSrc };
  return { ids: cs.map((c) => v.index.get(c)), chars: cs };
}

/** decode_target: text of generated ids (stops at eos, skips pad and bos, specials shown as <unk>). */
export function decodeTarget(ids, v) {
  let out = "";
  for (const i of ids) {
    if (i === v.eos) break;
    if (i === v.pad || i === v.bos) continue;
    const t = i >= 0 && i < v.tokens.length ? v.tokens[i] : "<unk>";
    out += SPECIALS.includes(t) ? "<unk>" : t;
  }
  return out;
}

const NEEDS = {
  transformer: { enc: ["src"], step: ["token", "memory", "src_mask", "cache"] },
  seq2seq_attention: { enc: ["src"], step: ["token", "state", "enc_states", "enc_keys", "src_mask"] },
};

/** Both graphs of a date model, verified and opened: {kind, enc, step, vocab, cache: [L, H, d_k] | null}. */
export async function loadSeqModel(ortSpec, specs, kind) {
  if (!NEEDS[kind]) throw new Error(`unknown date model ${kind}`);
  const [enc, step] = await Promise.all([loadModel(ortSpec, specs.encoder, `${kind}.encoder`),
    loadModel(ortSpec, specs.step, `${kind}.decoder_step`)]);
  for (const [m, names] of [[enc, NEEDS[kind].enc], [step, NEEDS[kind].step]]) {
    const missing = names.filter((n) => !m.inputNames.includes(n));
    if (missing.length) throw new Error(`${m.name} lacks inputs ${missing.join(", ")}`);
  }
  const vocab = vocabFromCard(enc.card);
  let cache = null;
  if (kind === "transformer") {
    const c = enc.card.config || {};
    cache = [c.n_dec_layer, c.n_head, Math.floor(c.d_model / c.n_head)];
    if (!cache.every((x) => Number.isInteger(x) && x > 0)) throw new Error("the model card lacks the cache shape");
  }
  const conf = (enc.card.metrics || {}).confidence || {};
  const threshold = Number.isFinite(conf.threshold) ? conf.threshold : 0.5; // dates_check.DEFAULT_THRESHOLD
  return { kind, enc, step, vocab, cache, threshold };
}

const YEARS = [1900, 2099]; // what the models were trained on (core.runtime.dates_check.YEARS)
const daysIn = (y, m) => (m === 2 ? ((y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)) ? 29 : 28)
  : [4, 6, 9, 11].includes(m) ? 30 : 31);
const pad2 = (n) => String(n).padStart(2, "0");
const fmtP = (p) => (!(p > 0.999) ? p.toFixed(3) : p < 1 ? Math.min(p, 0.999999).toFixed(6) : "1");

/**
 * Is an output an answer? The port of core.runtime.dates_check (judge + explain): the calendar first, then the
 * model's confidence. {ok: true} or {ok: false, key, fields} with key one of the catalogue's verdict.* keys.
 */
export function judge(output, probs, ended, threshold) {
  const low = probs.length ? Math.min(...probs) : NaN;
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(output);
  if (!m) return { ok: false, key: "verdict.not_shaped", fields: {} };
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12) return { ok: false, key: "verdict.no_month", fields: { m: pad2(mo) } };
  if (d < 1 || d > daysIn(y, mo)) {
    if (d === 0) return { ok: false, key: "verdict.no_day", fields: {} };
    if (mo === 2 && d === 29) return { ok: false, key: "verdict.not_leap", fields: { y } };
    return { ok: false, key: "verdict.days", fields: { y, m: pad2(mo), n: daysIn(y, mo), d } };
  }
  if (y < YEARS[0] || y > YEARS[1]) {
    return { ok: false, key: "verdict.out_of_range", fields: { y, lo: YEARS[0], hi: YEARS[1] } };
  }
  if (!ended) return { ok: false, key: "verdict.unfinished", fields: {} };
  if (!(low >= threshold)) {
    return { ok: false, key: "verdict.unsure", fields: { p: fmtP(low), threshold: fmtP(threshold) } };
  }
  return { ok: true };
}

function argmaxRow(data, off, n) {
  let best = 0, bv = data[off];
  for (let j = 1; j < n; j++) if (data[off + j] > bv) { bv = data[off + j]; best = j; } // first maximum, as numpy
  return best;
}

/**
 * Greedy decoding of a batch of encoded inputs (arrays of ids): per input {ids, cross, probs}, where cross is
 * the [T][S] alignment (the additive attention, or the Transformer's last-layer cross-attention averaged over
 * heads: mean_cross) and probs the softmax probability of each chosen token.
 */
export async function greedy(model, batch) {
  const v = model.vocab, B = batch.length;
  const S = Math.max(...batch.map((s) => s.length));
  const src = [], mask = [];
  for (const s of batch) for (let j = 0; j < S; j++) { src.push(j < s.length ? s[j] : v.pad); mask.push(j < s.length); }
  const enc = await run(model.enc, { src: i64(src, [B, S]) });
  const maskT = bool(mask, [B, S]);
  let token = new Array(B).fill(v.bos);
  let feeds, cache = null, state = null;
  if (model.kind === "transformer") {
    const [L, H, dk] = model.cache;
    cache = tensor("float32", new Float32Array(0), [L, 2, B, H, 0, dk]);
    feeds = { memory: enc.memory, src_mask: maskT };
  } else {
    state = enc.state;
    feeds = { enc_states: enc.enc_states, enc_keys: enc.enc_keys, src_mask: maskT };
  }
  const outIds = Array.from({ length: B }, () => []);
  const cross = Array.from({ length: B }, () => []);
  const probs = Array.from({ length: B }, () => []);
  const done = new Array(B).fill(false);
  for (let t = 0; t < v.maxTgt; t++) {
    let out;
    if (model.kind === "transformer") {
      out = await run(model.step, { token: i64(token, [B]), ...feeds, cache });
      cache = out.new_cache;
    } else {
      out = await run(model.step, { token: i64(token, [B]), state, ...feeds });
      state = out.new_state;
    }
    const logits = out.logits.data, V = out.logits.dims[1];
    const next = [];
    for (let b = 0; b < B; b++) {
      const k = argmaxRow(logits, b * V, V);
      next.push(k);
      let m = -Infinity, z = 0;
      for (let j = 0; j < V; j++) m = Math.max(m, logits[b * V + j]);
      for (let j = 0; j < V; j++) z += Math.exp(logits[b * V + j] - m);
      probs[b].push(Math.exp(logits[b * V + k] - m) / z);
      outIds[b].push(k);
      const n = batch[b].length, row = new Array(n).fill(0);
      if (model.kind === "transformer") { // cross_attn (L, B, H, S): last layer, mean over heads
        const [L, Bd, H, Sd] = out.cross_attn.dims, a = out.cross_attn.data;
        for (let h = 0; h < H; h++) {
          const off = (((L - 1) * Bd + b) * H + h) * Sd;
          for (let j = 0; j < n; j++) row[j] += a[off + j] / H;
        }
      } else { // attn (B, S)
        const a = out.attn.data, Sd = out.attn.dims[1];
        for (let j = 0; j < n; j++) row[j] = a[b * Sd + j];
      }
      cross[b].push(row);
      if (k === v.eos) done[b] = true;
    }
    token = next;
    if (done.every(Boolean)) break;
  }
  return outIds.map((row, b) => {
    const e = row.indexOf(v.eos), T = e >= 0 ? e + 1 : row.length;
    return { ids: row.slice(0, T), cross: cross[b].slice(0, T), probs: probs[b].slice(0, T) };
  });
}

/** One text through the model: {output, verdict, ids, srcTokens, outTokens, cross, probs, ms} or {error, ...}. */
export async function decodeText(model, text) {
  const t0 = now();
  const e = encodeSource(text, model.vocab);
  if (e.error) return e;
  const [r] = await greedy(model, [e.ids]);
  const v = model.vocab;
  const output = decodeTarget(r.ids, v);
  const verdict = judge(output, r.probs.slice(0, r.ids.length), r.ids.includes(v.eos), model.threshold);
  return { output, verdict, ids: r.ids, srcTokens: e.chars,
    outTokens: r.ids.map((i) => (i >= 0 && i < v.tokens.length ? v.tokens[i] : "<unk>")),
    cross: r.cross, probs: r.probs, ms: now() - t0 };
}

