// The browser runtime of the live views: onnxruntime-web (wasm, one thread) served by the app itself, and the
// exported ONNX files fetched from the app, checked against exported/manifest.json's sha256 before use.
//
// One instance per page: every live component imports this module by the same absolute URL, so they share one
// onnxruntime, one session per model file and one queue of runs (the wasm backend runs one thing at a time).
//
// What comes from Python (ui/live): `ort` = {version, files: {entry|glue|wasm: {url, sha256, bytes}}} from
// static/ort/manifest.json, and per model {url, sha256, bytes} from exported/manifest.json. URLs are relative to
// the app's base ("app/static/..."); model URLs are content-addressed (static/_models/<sha256>.onnx).

const CACHE = "bml-live-v1"; // Cache Storage bucket; entries are keyed by content-addressed URLs
const MAX_ENTRIES = 32; // the runtime's 3 files and 13 models fit twice over

// ------------------------------------------------------------------------------------------------ where the app is
/** The app's base URL (with a trailing slash), from Streamlit's own script tag, else from `location`. */
export function appBase() {
  const s = document.querySelector('script[src*="/static/js/index"]');
  if (s && s.src) return new URL("../../", s.src).href; // <base>/static/js/index.X.js -> <base>/
  return new URL("./", location.href).href;
}

export const absolute = (path) => new URL(path, appBase()).href;

export const now = () => performance.now();

// --------------------------------------------------------------------------------------------------------- sha-256
const K256 = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2]);

/** SHA-256 in plain JavaScript: SubtleCrypto exists only in secure contexts (https, localhost). */
export function sha256Js(bytes) {
  const n = bytes.length, total = ((n + 9 + 63) >> 6) << 6;
  const buf = new Uint8Array(total);
  buf.set(bytes);
  buf[n] = 0x80;
  const dv = new DataView(buf.buffer);
  dv.setUint32(total - 8, Math.floor(n / 0x20000000), false); // length in bits, high word
  dv.setUint32(total - 4, (n * 8) >>> 0, false);
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
    0x5be0cd19]);
  const w = new Uint32Array(64);
  for (let off = 0; off < total; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = dv.getUint32(off + 4 * i, false);
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15], b = w[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K256[i] + w[i]) >>> 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  return Array.from(h, (x) => x.toString(16).padStart(8, "0")).join("");
}

/** Hex SHA-256 of an ArrayBuffer/Uint8Array (SubtleCrypto where the page is a secure context). */
export async function sha256Hex(data) {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (globalThis.crypto && crypto.subtle) {
    const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    return Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("");
  }
  return sha256Js(bytes);
}

// -------------------------------------------------------------------------------------------- verified downloads
export class IntegrityError extends Error {}

const stats = { fetched: 0, fromCache: 0, bytesFetched: 0, verifyMs: 0 };
export const fetchStats = () => ({ ...stats });

async function openCache() {
  try {
    return globalThis.caches ? await caches.open(CACHE) : null; // undefined on insecure origins
  } catch (e) {
    return null; // storage disabled (private mode, quota): plain HTTP then
  }
}

/**
 * The bytes at `spec.url` (relative to the app's base), checked against `spec.sha256` before they are returned.
 * A content-addressed copy is kept in Cache Storage, so a returning visitor downloads nothing; it is checked again
 * on every read. Throws IntegrityError on a mismatch (and drops the cached copy).
 */
export async function fetchVerified(spec) {
  if (!spec || !spec.url || !/^[0-9a-f]{64}$/.test(spec.sha256 || "")) throw new Error("no file spec");
  const url = absolute(spec.url);
  const key = url.split("?")[0] + "?sha256=" + spec.sha256;
  const cache = await openCache();
  let buf = null;
  if (cache) {
    const hit = await cache.match(key);
    if (hit) {
      buf = await hit.arrayBuffer();
      stats.fromCache += 1;
    }
  }
  let fresh = false;
  if (!buf) {
    const r = await fetch(url, { credentials: "same-origin" });
    if (!r.ok) throw new Error(`HTTP ${r.status} for ${spec.url}`);
    buf = await r.arrayBuffer();
    fresh = true;
    stats.fetched += 1;
    stats.bytesFetched += buf.byteLength;
  }
  const t0 = now();
  const got = await sha256Hex(buf);
  stats.verifyMs += now() - t0;
  if (got !== spec.sha256 || (spec.bytes && buf.byteLength !== spec.bytes)) {
    if (cache) await cache.delete(key);
    throw new IntegrityError(
      `${spec.url}: sha256 ${got.slice(0, 12)}… is not the manifest's ${spec.sha256.slice(0, 12)}…`);
  }
  if (fresh && cache) {
    try {
      await cache.put(key, new Response(buf, { headers: { "content-type": "application/octet-stream" } }));
      // Retrained models get new hashes, so old entries would pile up: keep the newest MAX_ENTRIES (keys() lists
      // them in insertion order).
      const keys = await cache.keys();
      for (const old of keys.slice(0, Math.max(0, keys.length - MAX_ENTRIES))) await cache.delete(old);
    } catch (e) { /* quota: fine, HTTP next time */ }
  }
  return buf;
}

// ------------------------------------------------------------------------------------------------- onnxruntime-web
let ortPromise = null;
let ortInfo = null;

/** onnxruntime-web, loaded once from the vendored, sha256-checked files; {ort, version, backend, threads, ms}. */
export function loadOrt(spec) {
  if (!ortPromise) {
    ortPromise = (async () => {
      const t0 = now();
      const f = spec.files;
      const [entry, glue, wasm] = await Promise.all([f.entry, f.glue, f.wasm].map(fetchVerified));
      // The checked bytes are what runs: both modules are imported from blob URLs of those bytes, and the wasm
      // binary is handed over directly (so onnxruntime never fetches anything itself).
      const blobUrl = (b) => URL.createObjectURL(new Blob([b], { type: "text/javascript" }));
      const ort = await import(blobUrl(entry));
      ort.env.wasm.numThreads = 1; // no SharedArrayBuffer without COOP/COEP headers, which Streamlit does not send
      ort.env.wasm.proxy = false;
      ort.env.wasm.simd = true;
      ort.env.wasm.wasmPaths = { mjs: blobUrl(glue), wasm: absolute(f.wasm.url) };
      ort.env.wasm.wasmBinary = wasm;
      ort.env.logLevel = "error";
      ortInfo = { ort, version: ort.env.versions?.web || spec.version, backend: "wasm", threads: 1, ms: now() - t0 };
      mark("ort");
      return ortInfo;
    })();
    ortPromise.catch(() => { ortPromise = null; }); // a later call may try again (e.g. after a network blip)
  }
  return ortPromise;
}

export const ortLoaded = () => ortInfo;

// ------------------------------------------------------------------------------------------- the ONNX model card
function readVarint(b, p) {
  let v = 0, mul = 1, byte;
  do {
    byte = b[p.i++];
    v += (byte & 0x7f) * mul;
    mul *= 128;
  } while (byte & 0x80);
  return v;
}

function skipField(b, p, wire) {
  if (wire === 0) readVarint(b, p);
  else if (wire === 1) p.i += 8;
  else if (wire === 2) { const n = readVarint(b, p); p.i += n; } // not `p.i += readVarint()`: p.i is read first
  else if (wire === 5) p.i += 4;
  else throw new Error(`unsupported protobuf wire type ${wire}`);
}

/** ModelProto.metadata_props (field 14) as {key: value}, read from the file's bytes without parsing the graph. */
export function onnxMetadata(buf) {
  const b = new Uint8Array(buf), p = { i: 0 }, out = {};
  const dec = new TextDecoder();
  while (p.i < b.length) {
    const tag = readVarint(b, p), field = Math.floor(tag / 8), wire = tag & 7;
    if (field === 14 && wire === 2) {
      const len = readVarint(b, p), end = p.i + len;
      let k = "", v = "";
      while (p.i < end) {
        const t2 = readVarint(b, p), f2 = Math.floor(t2 / 8), w2 = t2 & 7;
        if ((f2 === 1 || f2 === 2) && w2 === 2) {
          const n = readVarint(b, p), s = dec.decode(b.subarray(p.i, p.i + n));
          p.i += n;
          if (f2 === 1) k = s; else v = s;
        } else skipField(b, p, w2);
      }
      out[k] = v;
    } else skipField(b, p, wire);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------- sessions
const sessions = new Map(); // sha256 -> Promise<Model>

/** A verified model: {name, session, card, inputNames, outputNames, bytes, ms} (one per file content). */
export function loadModel(ortSpec, spec, name = "") {
  if (!sessions.has(spec.sha256)) {
    const p = (async () => {
      const t0 = now();
      // the model's bytes download (and are checked) while onnxruntime loads
      const [{ ort }, buf] = await Promise.all([loadOrt(ortSpec), fetchVerified(spec)]);
      let card = {};
      try {
        card = JSON.parse(onnxMetadata(buf).model_card || "{}");
      } catch (e) { card = {}; }
      const session = await ort.InferenceSession.create(new Uint8Array(buf), {
        executionProviders: ["wasm"], graphOptimizationLevel: "all", intraOpNumThreads: 1,
      });
      return { name, session, card, inputNames: session.inputNames, outputNames: session.outputNames,
        bytes: buf.byteLength, ms: now() - t0 };
    })();
    p.catch(() => sessions.delete(spec.sha256));
    sessions.set(spec.sha256, p);
  }
  return sessions.get(spec.sha256);
}

let queue = Promise.resolve();

/** session.run, one at a time across the page (the single-threaded wasm backend is not re-entrant). */
export function run(model, feeds) {
  const next = queue.then(() => model.session.run(feeds));
  queue = next.catch(() => {});
  return next;
}

/** A float32 tensor. */
export function f32(data, dims) {
  return new ortInfo.ort.Tensor("float32", data instanceof Float32Array ? data : Float32Array.from(data), dims);
}

export function i64(values, dims) {
  return new ortInfo.ort.Tensor("int64", BigInt64Array.from(values, (v) => BigInt(v)), dims);
}

export function bool(values, dims) {
  return new ortInfo.ort.Tensor("bool", Uint8Array.from(values, (v) => (v ? 1 : 0)), dims);
}

export function tensor(type, data, dims) {
  return new ortInfo.ort.Tensor(type, data, dims);
}

// --------------------------------------------------------------------------------------- what the page measures
const timings = {}; // view -> [ms, ...] (the benchmark reads these)
const marks = {}; // first time (performance.now(), from navigation start) each named thing happened
export function mark(name) {
  if (!(name in marks)) marks[name] = performance.now();
}
export function record(view, ms) {
  (timings[view] = timings[view] || []).push(ms);
  if (timings[view].length > 5000) timings[view].shift();
  mark(`first:${view}`);
}
globalThis.__bmlLive = globalThis.__bmlLive || {};
Object.assign(globalThis.__bmlLive, {
  timings, marks, fetchStats, ortLoaded: () => (ortInfo ? { version: ortInfo.version, backend: ortInfo.backend,
    threads: ortInfo.threads, ms: ortInfo.ms } : null),
});

/** A short "in your browser, 1.8 ms" style text from a template with {ms}. */
export function msText(template, ms) {
  const v = ms < 10 ? ms.toFixed(1) : Math.round(ms).toString();
  return String(template || "{ms} ms").replace("{ms}", v);
}
