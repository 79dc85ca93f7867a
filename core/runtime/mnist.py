"""MNIST helpers on the runtime side (numpy + onnxruntime, no torch): shared by the training evaluation, the tests
and the dashboard, so every figure is computed one way.

Images entering a model are float32 (B, 1, 28, 28) in [0, 1] with ink = 1.
"""

from __future__ import annotations

import os

import numpy as np

from core import EXPORTED
from core.errors import UserError
from core.manifest import ArtifactError, excerpt, read_artifact
from core.runtime.contracts import parse_json, parse_npz, validate_json, validate_npz


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 (B, 28, 28) or (B, 1, 28, 28) in 0..255, or floats already in [0, 1] -> float32 (B, 1, 28, 28)."""
    x = np.asarray(images)
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1:] != (1, 28, 28):
        raise UserError(f"expected images of shape (B, 28, 28), got {tuple(np.asarray(images).shape)}")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    return np.clip(x.astype(np.float32), 0.0, 1.0)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """float images in [0, 1] (any leading shape, 28x28 last) -> uint8 (…, 28, 28)."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 4:
        x = x[:, 0]
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def run_batched(loaded, feed_name: str, x: np.ndarray, batch: int = 512, outputs: list[str] | None = None) -> dict:
    """Run ``loaded`` (a LoadedModel) over ``x`` in batches; returns {output name: concatenated array}."""
    parts: dict[str, list[np.ndarray]] = {}
    for i in range(0, len(x), batch):
        for k, v in loaded.run({feed_name: x[i:i + batch]}, outputs).items():
            parts.setdefault(k, []).append(v)
    return {k: np.concatenate(v) for k, v in parts.items()}


def encode(enc, x: np.ndarray) -> np.ndarray:
    return run_batched(enc, "image", x)["z"]


def decode(dec, z: np.ndarray) -> np.ndarray:
    return run_batched(dec, "z", np.asarray(z, dtype=np.float32))["image"]


def reconstruct(enc, dec, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(z, reconstruction) of float images x (B, 1, 28, 28) through an exported encoder/decoder pair."""
    z = encode(enc, x)
    return z, decode(dec, z)


def mse_per_image(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return ((np.asarray(x, np.float64) - np.asarray(y, np.float64)) ** 2).reshape(len(x), -1).mean(axis=1)


def gan_noise(seed: int, n: int, dim: int = 100) -> np.ndarray:
    """The generator's input: n standard-normal vectors, reproducible from the seed."""
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def interpolate(z0: np.ndarray, z1: np.ndarray, steps: int) -> np.ndarray:
    """Straight-line path from z0 to z1 (both (D,)), ``steps`` points including both ends -> (steps, D)."""
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return ((1 - t) * np.asarray(z0, np.float32)[None] + t * np.asarray(z1, np.float32)[None]).astype(np.float32)


def fit_pca(x: np.ndarray, k: int) -> dict:
    """PCA of float images (N, ...) flattened: {'mean': (784,), 'components': (k, 784)} (rows orthonormal)."""
    flat = np.asarray(x, np.float64).reshape(len(x), -1)
    mean = flat.mean(axis=0)
    _, _, vt = np.linalg.svd(flat - mean, full_matrices=False)
    return {"mean": mean.astype(np.float32), "components": vt[:k].astype(np.float32)}


def pca_reconstruct(pca: dict, x: np.ndarray, k: int | None = None) -> np.ndarray:
    """Project float images onto the first k (default all) PCA components and back -> (B, 1, 28, 28) float32."""
    comps = np.asarray(pca["components"], np.float64)[:k]
    mean = np.asarray(pca["mean"], np.float64)
    flat = np.asarray(x, np.float64).reshape(len(x), -1) - mean
    rec = (flat @ comps.T) @ comps + mean
    return rec.reshape(len(x), 1, 28, 28).astype(np.float32)


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)), the FID formula, in numpy alone.

    Tr((S_a S_b)^(1/2)) equals the sum of square roots of the eigenvalues of sqrt(S_a) S_b sqrt(S_a), a symmetric
    PSD matrix, so two `eigh` calls suffice (no scipy.linalg.sqrtm).
    """
    a = np.asarray(feats_a, np.float64)
    b = np.asarray(feats_b, np.float64)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(s_a)
    sqrt_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = sqrt_a @ s_b @ sqrt_a
    ev = np.linalg.eigvalsh((m + m.T) / 2)
    tr_sqrt = float(np.sqrt(np.clip(ev, 0, None)).sum())
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * tr_sqrt)


def classify(classifier, x: np.ndarray, batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """(logits, features) of float images through the exported classifier."""
    out = run_batched(classifier, "image", x, batch)
    return out["logits"], out["features"]


def classifier_fid(classifier, imgs_a: np.ndarray, imgs_b: np.ndarray) -> float:
    """Classifier-FID between two sets of float images: FID with the classifier's `features` for Inception's."""
    return frechet_distance(classify(classifier, imgs_a)[1], classify(classifier, imgs_b)[1])


def class_histogram(labels: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Fraction of each class among ``labels`` -> (n_classes,) float64 summing to 1."""
    counts = np.bincount(np.asarray(labels, np.int64), minlength=n_classes)[:n_classes]
    return counts / max(1, counts.sum())


def confident_fraction(logits: np.ndarray, threshold: float = 0.9) -> float:
    """Fraction of rows whose top softmax probability is at least ``threshold`` (how often a classifier is sure)."""
    z = np.asarray(logits, np.float64)
    z = z - z.max(1, keepdims=True)
    p_top = 1.0 / np.exp(z).sum(1)  # the top class has z = 0
    return float((p_top >= threshold).mean())


def blur3(x: np.ndarray) -> np.ndarray:
    """3x3 box blur of float images (B, 1, 28, 28), zero padding: the issue's 'blurred real digits' reference."""
    p = np.pad(np.asarray(x, np.float32), ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = sum(p[:, :, i:i + 28, j:j + 28] for i in range(3) for j in range(3)) / 9.0
    return out.astype(np.float32)


def _load_npz(name: str, exported_dir) -> dict:
    """A verified (manifest sha256) and validated (contracts.NPZ_SCHEMAS) npz artifact: {array name: array}."""
    return validate_npz(name, parse_npz(name, read_artifact(name, exported_dir)))


def load_examples(exported_dir: str | os.PathLike = EXPORTED) -> dict:
    """{'images': uint8 (500, 28, 28), 'labels': int64 (500,)}: validation digits for the example picker."""
    return _load_npz("examples.npz", exported_dir)


def load_pca(exported_dir: str | os.PathLike = EXPORTED) -> dict:
    """{'mean': (784,), 'components': (32, 784), 'components_2': (2, 784)}, fitted on the training split."""
    return _load_npz("pca.npz", exported_dir)


TIMELINES = ("gan_timeline.npz", "dcgan_timeline.npz")


def load_timeline(exported_dir: str | os.PathLike = EXPORTED, name: str = "gan_timeline.npz") -> dict:
    """{'images': uint8 (E, 64, 28, 28) fixed-noise GAN samples per epoch, 'epochs': int64 (E,)}: the text's GAN's
    timeline, or the DCGAN's with ``name="dcgan_timeline.npz"`` (both from the same 64 noise vectors)."""
    if name not in TIMELINES:
        raise ValueError(f"no timeline called {name!r}")
    return _load_npz(name, exported_dir)


def load_history(name: str, exported_dir: str | os.PathLike = EXPORTED) -> dict:
    """exported/history/<name>.json: {'model': ..., 'epochs': [{'epoch': 1, ...}, ...]}, checked by schema."""
    if not isinstance(name, str) or not name.isidentifier():
        shown = excerpt(name)
        raise ArtifactError(f"There is no history for {shown}.", key="errors.artifact.no_history", name=shown)
    rel = f"history/{name}.json"
    return validate_json(rel, parse_json(rel, read_artifact(rel, exported_dir)))
