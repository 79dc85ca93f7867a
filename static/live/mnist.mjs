// MNIST preprocessing of a drawing, in the browser: the same steps, in the same float32 arithmetic, as
// core/runtime/preprocess.py (to_gray -> ink_map -> mnistify), so the live views see the digit the server would.
//
// Crop to the ink, fit the longer side into 20 pixels keeping the aspect ratio (Pillow's LANCZOS filter, ported
// below), and cut the 28x28 window whose centre is the digit's centre of mass (index (14, 14), as MNIST has it).
// No DOM here: the functions take RGBA bytes, so node can test them too.

const SIZE = 28; // the MNIST field
const BOX = 20; // the digit's longer side inside it
const MIN_CONTRAST = 0.12; // ink must stand out from the paper by this much
const INK_LEVEL = 0.25; // fraction of the strongest ink that counts as ink for the crop
const fr = Math.fround;

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(x) {
  const f = Math.floor(x), d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** numpy's float32 sum (pairwise, blocks of 8 lanes up to 128 items), so the centre of mass rounds the same way. */
function pairwiseSum32(a, lo, n) {
  if (n < 8) {
    let r = 0;
    for (let i = 0; i < n; i++) r = fr(r + a[lo + i]);
    return r;
  }
  if (n <= 128) {
    const r = [a[lo], a[lo + 1], a[lo + 2], a[lo + 3], a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]];
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] = fr(r[j] + a[lo + i + j]);
    let res = fr(fr(fr(r[0] + r[1]) + fr(r[2] + r[3])) + fr(fr(r[4] + r[5]) + fr(r[6] + r[7])));
    for (; i < n; i++) res = fr(res + a[lo + i]);
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return fr(pairwiseSum32(a, lo, n2) + pairwiseSum32(a, lo + n2, n - n2));
}

/** The same pairwise order in float64 (numpy's sum of a float64 array). */
function pairwiseSum64(a, lo, n) {
  if (n < 8) {
    let r = 0;
    for (let i = 0; i < n; i++) r += a[lo + i];
    return r;
  }
  if (n <= 128) {
    const r = [a[lo], a[lo + 1], a[lo + 2], a[lo + 3], a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]];
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[lo + i + j];
    let res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += a[lo + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum64(a, lo, n2) + pairwiseSum64(a, lo + n2, n - n2);
}

/** numpy's median of float32 values (the mean of the two middle ones for an even count, in float32). */
function median32(values) {
  const s = Float32Array.from(values).sort();
  const n = s.length, m = n >> 1;
  return n % 2 ? s[m] : fr(fr(s[m - 1] + s[m]) / 2);
}

// ------------------------------------------------------------------------------------------------ 1. to_gray
const W0 = fr(0.299), W1 = fr(0.587), W2 = fr(0.114);

/** to_gray of one pixel, alpha aside (float32, fused multiply-adds left to right, as numpy's matmul does). */
function gray(rgba, i) {
  const r = fr(rgba[4 * i] / 255), g = fr(rgba[4 * i + 1] / 255), b = fr(rgba[4 * i + 2] / 255);
  let acc = fr(r * W0);
  acc = fr(g * W1 + acc);
  return fr(b * W2 + acc);
}

/** Luminance in [0, 1] (float32, row-major) of RGBA bytes; transparent pixels become the paper's shade. */
export function toGray(rgba, width, height) {
  const n = width * height;
  const lum = new Float32Array(n), alpha = new Float32Array(n);
  let opaque = 0;
  for (let i = 0; i < n; i++) {
    lum[i] = gray(rgba, i);
    alpha[i] = fr(rgba[4 * i + 3] / 255);
    if (alpha[i] > 0.5) opaque += 1;
  }
  if (opaque === n) return lum;
  if (opaque === 0) return alpha; // fully transparent: blank
  const inked = [];
  for (let i = 0; i < n; i++) if (alpha[i] > 0.5) inked.push(lum[i]);
  const paper = median32(inked) < 0.5 ? 1.0 : 0.0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = fr(fr(alpha[i] * lum[i]) + fr(fr(1.0 - alpha[i]) * paper));
  return out;
}

// ------------------------------------------------------------------------------------------------ 2. ink_map
/** Ink = 1 on paper = 0 (the paper is the border's median; dark ink on light paper is inverted); null if blank. */
export function inkMap(gray, width, height) {
  const border = [];
  for (let x = 0; x < width; x++) border.push(gray[x]);
  for (let x = 0; x < width; x++) border.push(gray[(height - 1) * width + x]);
  for (let y = 0; y < height; y++) border.push(gray[y * width]);
  for (let y = 0; y < height; y++) border.push(gray[y * width + width - 1]);
  const paper = median32(border);
  const ink = new Float32Array(gray.length);
  let peak = 0;
  for (let i = 0; i < gray.length; i++) {
    let v = paper > 0.5 ? fr(paper - gray[i]) : fr(gray[i] - paper);
    if (v < 0) v = 0;
    ink[i] = v;
    if (v > peak) peak = v;
  }
  if (peak < MIN_CONTRAST) return null;
  for (let i = 0; i < ink.length; i++) ink[i] = fr(ink[i] / peak);
  return ink;
}

// ------------------------------------------------------------------------------ Pillow's LANCZOS resize (mode F)
function sinc(x) {
  if (x === 0.0) return 1.0;
  x *= Math.PI;
  return Math.sin(x) / x;
}

function lanczos(x) {
  return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0;
}

/** Filter taps per output index: Pillow's precompute_coeffs for a box [0, inSize). */
function coeffs(inSize, outSize) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1.0);
  const support = 3.0 * filterscale;
  const bounds = [], taps = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1.0 / filterscale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    const k = new Float64Array(Math.max(xmax, 0));
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      const w = lanczos((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    if (ww !== 0.0) for (let x = 0; x < xmax; x++) k[x] /= ww;
    bounds.push([xmin, xmax]);
    taps.push(k);
  }
  return { bounds, taps };
}

/** Image.fromarray(a, "F").resize((nw, nh), LANCZOS) for a float32 (h, w) array: two passes, float32 between. */
export function resizeLanczos(src, w, h, nw, nh) {
  if (nw === w && nh === h) return Float32Array.from(src);
  const needH = nw !== w, needV = nh !== h;
  const vert = coeffs(h, nh);
  let img = src, iw = w, rowOffset = 0;
  if (needH) {
    const hor = coeffs(w, nw);
    const first = vert.bounds[0][0];
    const last = vert.bounds[nh - 1][0] + vert.bounds[nh - 1][1];
    const rows = last - first;
    const tmp = new Float32Array(nw * rows);
    for (let yy = 0; yy < rows; yy++) {
      const srow = (yy + first) * w;
      for (let xx = 0; xx < nw; xx++) {
        const [xmin, xmax] = hor.bounds[xx], k = hor.taps[xx];
        let ss = 0.0;
        for (let x = 0; x < xmax; x++) ss += src[srow + x + xmin] * k[x];
        tmp[yy * nw + xx] = ss;
      }
    }
    img = tmp; iw = nw; rowOffset = first;
  }
  if (!needV) return img;
  const out = new Float32Array(iw * nh);
  for (let yy = 0; yy < nh; yy++) {
    const [ymin0, ymax] = vert.bounds[yy], k = vert.taps[yy];
    const ymin = ymin0 - rowOffset;
    for (let xx = 0; xx < iw; xx++) {
      let ss = 0.0;
      for (let y = 0; y < ymax; y++) ss += img[(y + ymin) * iw + xx] * k[y];
      out[yy * iw + xx] = ss;
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------------ 3. mnistify
/** The ink's bounding box (pixels above INK_LEVEL) and how many there are. */
function inkBox(ink, width, height) {
  let top = height, bottom = -1, left = width, right = -1, count = 0;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (ink[row + x] > INK_LEVEL) {
        count += 1;
        if (y < top) top = y;
        if (y > bottom) bottom = y;
        if (x < left) left = x;
        if (x > right) right = x;
      }
    }
  }
  return { top, bottom, left, right, count };
}

/** Crop to the ink, fit 20x20 keeping aspect, centre of mass at (14, 14): Float32Array(784), or a reason. */
export function mnistify(ink, width, height) {
  return fit(ink, width, inkBox(ink, width, height));
}

function fit(ink, width, { top, bottom, left, right, count }) {
  if (count < 2) return { error: "little" };
  const h = bottom - top + 1, w = right - left + 1;
  const crop = new Float32Array(h * w);
  for (let y = 0; y < h; y++) crop.set(ink.subarray((y + top) * width + left, (y + top) * width + left + w), y * w);
  const scale = BOX / Math.max(h, w);
  const nh = Math.max(1, roundHalfEven(h * scale)), nw = Math.max(1, roundHalfEven(w * scale));
  const small = resizeLanczos(crop, w, h, nw, nh);
  for (let i = 0; i < small.length; i++) small[i] = Math.min(1, Math.max(0, small[i]));
  // centre of mass: total in float32, the index-weighted sums in float64 (int64 rows times float32 -> float64)
  const total = pairwiseSum32(small, 0, small.length);
  const wy = new Float64Array(small.length), wx = new Float64Array(small.length);
  for (let y = 0; y < nh; y++) for (let x = 0; x < nw; x++) {
    wy[y * nw + x] = y * small[y * nw + x];
    wx[y * nw + x] = x * small[y * nw + x];
  }
  const cy = pairwiseSum64(wy, 0, wy.length) / total, cx = pairwiseSum64(wx, 0, wx.length) / total;
  const pad = SIZE;
  const t = roundHalfEven(pad + cy - SIZE / 2), l = roundHalfEven(pad + cx - SIZE / 2);
  const out = new Float32Array(SIZE * SIZE);
  let peak = 0;
  for (let y = 0; y < SIZE; y++) {
    const fy = t + y - pad; // row inside `small`
    if (fy < 0 || fy >= nh) continue;
    for (let x = 0; x < SIZE; x++) {
      const fx = l + x - pad;
      if (fx < 0 || fx >= nw) continue;
      const v = small[fy * nw + fx];
      out[y * SIZE + x] = v;
      if (v > peak) peak = v;
    }
  }
  if (!(peak > 0)) return { error: "scaled" };
  for (let i = 0; i < out.length; i++) out[i] = fr(out[i] / peak);
  return { x: out };
}

/** ink_map's ink (normalised by its peak) and mnistify's ink box of opaque pixels against a known paper shade;
 * null where the ink is too faint. */
function inkAndBox(rgba, width, height, paper) {
  const light = paper > 0.5, skipBlack = !light && paper === 0;
  const ink = new Float32Array(width * height);
  let peak = 0;
  for (let i = 0; i < ink.length; i++) {
    // a pixel of exactly the paper's colour is no ink: skip the arithmetic (most of a drawing is paper)
    const j = 4 * i;
    if (skipBlack && rgba[j] === 0 && rgba[j + 1] === 0 && rgba[j + 2] === 0) continue;
    const g = gray(rgba, i);
    const v = light ? fr(paper - g) : fr(g - paper);
    if (v > 0) {
      ink[i] = v;
      if (v > peak) peak = v;
    }
  }
  if (peak < MIN_CONTRAST) return null;
  for (let i = 0; i < ink.length; i++) if (ink[i] !== 0) ink[i] = fr(ink[i] / peak);
  return { ink, box: inkBox(ink, width, height) };
}

const isOpaque = (rgba) => {
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] !== 255) return false;
  return true;
};

/** One opaque drawing in three passes instead of five: the same float32 steps as toGray -> inkMap -> mnistify, so
 * the result is bit-identical. */
function preprocessOpaque(rgba, width, height) {
  const border = [];
  for (let x = 0; x < width; x++) border.push(gray(rgba, x));
  for (let x = 0; x < width; x++) border.push(gray(rgba, (height - 1) * width + x));
  for (let y = 0; y < height; y++) border.push(gray(rgba, y * width));
  for (let y = 0; y < height; y++) border.push(gray(rgba, y * width + width - 1));
  const r = inkAndBox(rgba, width, height, median32(border));
  return r ? fit(r.ink, width, r.box) : { error: "blank" };
}

/**
 * preprocess() of a width x height drawing that is black paper (0, 0, 0, 255) everywhere outside one rectangle,
 * given only the rectangle's RGBA (rw x rh at x0, y0, inside the drawing): the pad knows where its pen has been, so it reads and
 * walks that much instead of the whole canvas. Bit-identical: outside pixels are paper, so they are no ink and
 * the paper shade is 0 when the rectangle stays off the border; otherwise the drawing is rebuilt whole.
 */
export function preprocessInside(rgba, x0, y0, rw, rh, width, height) {
  if (x0 > 0 && y0 > 0 && x0 + rw < width && y0 + rh < height && isOpaque(rgba)) {
    const r = inkAndBox(rgba, rw, rh, 0);
    return r ? fit(r.ink, rw, r.box) : { error: "blank" };
  }
  const full = new Uint8ClampedArray(width * height * 4);
  for (let i = 3; i < full.length; i += 4) full[i] = 255;
  for (let y = 0; y < rh; y++) full.set(rgba.subarray(4 * y * rw, 4 * (y + 1) * rw), 4 * ((y + y0) * width + x0));
  return preprocess(full, width, height);
}

/** RGBA bytes of a drawing -> {x: Float32Array(784)} in [0, 1], ink = 1, or {error: "blank"|"little"|"scaled"}. */
export function preprocess(rgba, width, height) {
  return isOpaque(rgba) ? preprocessOpaque(rgba, width, height) : preprocessGeneral(rgba, width, height);
}

/** The reference order of steps, for any drawing (transparent pixels included). */
export function preprocessGeneral(rgba, width, height) {
  const ink = inkMap(toGray(rgba, width, height), width, height);
  if (!ink) return { error: "blank" };
  return mnistify(ink, width, height);
}

// ---------------------------------------------------------------------------------------------------- pictures
/** Paint a 28x28 image (values in [0, 1]) into a 28x28 canvas: gray (ink light on dark) or an error colour map. */
export function paint(canvas, values, mode = "gray") {
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(SIZE, SIZE);
  for (let i = 0; i < SIZE * SIZE; i++) {
    const v = Math.min(1, Math.max(0, values[i]));
    let r, g, b;
    if (mode === "error") { // black -> red -> yellow, like a "hot" map
      r = Math.min(1, 2 * v); g = Math.max(0, 2 * v - 1); b = 0;
    } else { r = g = b = v; }
    img.data[4 * i] = Math.round(255 * r);
    img.data[4 * i + 1] = Math.round(255 * g);
    img.data[4 * i + 2] = Math.round(255 * b);
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

/** Per-pixel |a - b| and the mean squared error (float64, like mse_per_image). */
export function errorMap(a, b) {
  const out = new Float32Array(a.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    out[i] = Math.abs(d);
    s += d * d;
  }
  return { map: out, mse: s / a.length };
}

export function softmax(logits) {
  const m = Math.max(...logits);
  const e = Array.from(logits, (v) => Math.exp(v - m));
  const s = e.reduce((p, q) => p + q, 0);
  return e.map((v) => v / s);
}
