"""Sample-quality measures for the GANs (numpy + onnxruntime, no torch): FID, KID and precision/recall on the
features of `fid_features.onnx`, always beside the real-vs-real floor and blurred real digits on the same scale.

How the figures are made (the same in training, tests and dashboard):
- t10k is split into two class-stratified halves of 5,000 (seed 0). Half B is the reference; every candidate set
  has 5,000 images: half A (the real-vs-real floor), half A blurred 3x3, and 5,000 samples of each generator from
  the same noise seed. Equal sizes matter: FID and the nearest-neighbour radii depend on the sample count.
- A random split, not t10k's first and second halves: those come from different writers (MNIST's test set puts
  its 5,000 cleaner digits first), and their FID is a writer shift, not sampling noise (1.25 against 0.08 on the
  classifier's features).

KID: Binkowski et al. 2018, the unbiased MMD^2 estimator with the cubic polynomial kernel k(x, y) =
(x . y / d + 1)^3, averaged over subsets. Precision / recall: Kynkaanniemi et al. 2019 (k-NN balls, k = 3):
precision = share of generated samples inside the real manifold, recall = share of real digits inside the
generated one.
"""

from __future__ import annotations

import os

import numpy as np

from core import EXPORTED
from core.data.mnist import stratified_split
from core.runtime import mnist as rt

FEATURES_FILE = "fid_features.onnx"
N_EVAL = 5000  # images per set: half of t10k
SPLIT_SEED = 0
NOISE_SEED = 12345  # the generators' noise for the test figures (the text's GAN's GAN_EVAL_SEED)
KID_SUBSETS, KID_SUBSET_SIZE = 20, 1000
PR_K = 3


# ------------------------------------------------------------------------------------------ the measures


def poly_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = a.shape[1]
    return (a @ b.T / d + 1.0) ** 3


def kid(feats_a: np.ndarray, feats_b: np.ndarray, n_subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE,
        seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance (unbiased MMD^2, cubic polynomial kernel): (mean, std) over random subsets.

    Unbiased: two samples of one distribution give values scattered around 0 (negative ones included), unlike FID,
    whose floor is a positive bias that shrinks only with more samples.
    """
    a, b = np.asarray(feats_a, np.float64), np.asarray(feats_b, np.float64)
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError("KID needs at least two samples in each set")
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx, kyy, kxy = poly_kernel(x, x), poly_kernel(y, y), poly_kernel(x, y)
        mmd = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) - 2 * kxy.mean()
        vals.append(mmd)
    return float(np.mean(vals)), float(np.std(vals))


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.maximum(d, 0.0)


def knn_radii(feats: np.ndarray, k: int = PR_K, chunk: int = 1000) -> np.ndarray:
    """Distance from each row to its k-th nearest other row -> (N,)."""
    x = np.asarray(feats, np.float64)
    if len(x) <= k:
        raise ValueError(f"need more than k={k} samples for k-NN radii")
    out = np.empty(len(x))
    for i in range(0, len(x), chunk):
        d = _sq_dists(x[i:i + chunk], x)
        out[i:i + chunk] = np.sqrt(np.partition(d, k, axis=1)[:, k])  # index 0 is the row itself (distance 0)
    return out


def _coverage(points: np.ndarray, centres: np.ndarray, radii: np.ndarray, chunk: int = 1000) -> float:
    """Share of ``points`` inside at least one ball (centre, radius)."""
    p, c, r2 = np.asarray(points, np.float64), np.asarray(centres, np.float64), np.asarray(radii) ** 2
    inside = 0
    for i in range(0, len(p), chunk):
        inside += int((_sq_dists(p[i:i + chunk], c) <= r2[None, :]).any(1).sum())
    return inside / len(p)


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = PR_K) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019) of ``fake`` against ``real`` features."""
    precision = _coverage(fake, real, knn_radii(real, k))
    recall = _coverage(real, fake, knn_radii(fake, k))
    return precision, recall


# ------------------------------------------------------------------------------------------ the figures


def features(extractor, x: np.ndarray, batch: int = 500) -> np.ndarray:
    """`features` of float images (B, 1, 28, 28) in [0, 1] through the exported extractor -> (B, D) float32."""
    return rt.run_batched(extractor, "image", np.asarray(x, np.float32), batch, outputs=["features"])["features"]


def embed(extractor, x: np.ndarray, batch: int = 500) -> dict[str, np.ndarray]:
    """{'features': (B, 128), 'strokes': (B, 32)} of float images through the exported extractor."""
    return rt.run_batched(extractor, "image", np.asarray(x, np.float32), batch, outputs=["features", "strokes"])


def test_halves(test_labels: np.ndarray, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Two class-stratified halves of t10k: (A: candidates, B: the reference), 5,000 indices each."""
    return stratified_split(np.asarray(test_labels), 0.5, seed)


def generate(generator, n: int = N_EVAL, seed: int = NOISE_SEED, z_dim: int = 100) -> np.ndarray:
    """n samples (float (n, 1, 28, 28) in [0, 1]) of an exported generator from the seeded standard-normal noise."""
    return rt.run_batched(generator, "z", rt.gan_noise(seed, n, z_dim))["image"]


def score(emb: dict, ref: dict, seed: int = 0) -> dict:
    """One image set against the reference, both embed() dicts: FID, KID (x1000, mean and std over subsets),
    precision and recall on `features`; fid_strokes: FID on `strokes` (stroke appearance alone)."""
    k_mean, k_std = kid(emb["features"], ref["features"], seed=seed)
    p, r = precision_recall(ref["features"], emb["features"])
    return {"fid": round(rt.frechet_distance(emb["features"], ref["features"]), 4),
            "kid_x1000": round(1000 * k_mean, 4), "kid_x1000_std": round(1000 * k_std, 4),
            "precision": round(p, 4), "recall": round(r, 4),
            "fid_strokes": round(rt.frechet_distance(emb["strokes"], ref["strokes"]), 4)}


def reference_sets(test_images: np.ndarray, test_labels: np.ndarray) -> dict:
    """{'reference': half B, 'real': half A, 'blurred': half A blurred 3x3}: float images in [0, 1]."""
    a, b = test_halves(test_labels)
    x = rt.to_model_input(test_images)
    return {"reference": x[b], "real": x[a], "blurred": rt.blur3(x[a])}


def quality_table(extractor, test_images: np.ndarray, test_labels: np.ndarray, generators: dict,
                  classifier=None) -> dict:
    """Every figure on one scale: {'real': ..., 'blurred': ..., <generator name>: ...}, each a score() dict.

    ``generators``: {name: an exported generator (LoadedModel)}; each draws N_EVAL samples from NOISE_SEED.
    With ``classifier`` (classifier.onnx), each generator's row also has the classifier's class shares.
    """
    sets = reference_sets(test_images, test_labels)
    ref = embed(extractor, sets["reference"])
    rows = {"real": score(embed(extractor, sets["real"]), ref),
            "blurred": score(embed(extractor, sets["blurred"]), ref)}
    for name, g in generators.items():
        imgs = generate(g)
        rows[name] = score(embed(extractor, imgs), ref)
        if classifier is not None:
            frac = rt.class_histogram(rt.classify(classifier, imgs)[0].argmax(1))
            rows[name]["class_fractions"] = [round(float(f), 4) for f in frac]
            rows[name]["max_class_fraction"] = round(float(frac.max()), 4)
    return {"rows": rows, "n": N_EVAL, "noise_seed": NOISE_SEED, "split_seed": SPLIT_SEED,
            "features": f"{FEATURES_FILE} `features` (fid_strokes: `strokes`)",
            "kid": f"{KID_SUBSETS} subsets of {KID_SUBSET_SIZE}",
            "pr_k": PR_K}


def load_features(provider: str = "cpu", exported_dir: str | os.PathLike = EXPORTED):
    from core.runtime.session import load_model

    return load_model(FEATURES_FILE, provider, exported_dir)
