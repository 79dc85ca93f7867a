"""What a side-by-side view of the two GANs needs, as plain data (numpy + onnxruntime, no torch, no streamlit).

The text's GAN (gan.*.onnx: dense G) and the DCGAN (dcgan.*.onnx: convolutional G) both take z ~ N(0, I) of
100 values, so one seed gives both generators the same noise vectors: a column-by-column comparison.

    gens, discs = load_generators(), load_discriminators()
    clf = load_model("classifier.onnx")
    view = side_by_side(gens, discs, clf, seed=7, n=16)     # samples, labels, D's verdicts, per generator
    shares = class_shares(gens, clf, n=1000, seed=0)          # the mode-collapse check, per generator
    table = load_quality()                                    # FID / KID / precision / recall, floor and blur
"""

from __future__ import annotations

import os

import numpy as np

from core import EXPORTED
from core.manifest import read_artifact
from core.runtime import mnist as rt
from core.runtime.contracts import parse_json, parse_npz, validate_json, validate_npz

MODELS = ("gan", "dcgan")  # the text's GAN first
TITLES = {"gan": "the text's GAN (dense G)", "dcgan": "DCGAN (convolutional G)"}
QUALITY_FILE = "dcgan_quality.json"
MAX_SAMPLES = 1000  # bounded work for any request


def load_generators(provider: str = "auto", exported_dir: str | os.PathLike = EXPORTED, models=MODELS) -> dict:
    from core.runtime.session import load_model

    return {m: load_model(f"{m}.generator.onnx", provider, exported_dir) for m in models}


def load_discriminators(provider: str = "auto", exported_dir: str | os.PathLike = EXPORTED, models=MODELS) -> dict:
    from core.runtime.session import load_model

    return {m: load_model(f"{m}.discriminator.onnx", provider, exported_dir) for m in models}


def _n(n: int) -> int:
    n = int(n)
    if not 1 <= n <= MAX_SAMPLES:
        raise ValueError(f"n must be between 1 and {MAX_SAMPLES}, got {n}")
    return n


def same_noise(seed: int, n: int, z_dim: int = 100) -> np.ndarray:
    """The n noise vectors every generator gets for this seed -> (n, z_dim) float32."""
    return rt.gan_noise(int(seed), _n(n), z_dim)


def samples(generators: dict, seed: int, n: int = 16) -> dict[str, np.ndarray]:
    """{model: float (n, 1, 28, 28) in [0, 1]}: each generator's images from the same noise vectors."""
    z = same_noise(seed, n)
    return {m: rt.run_batched(g, "z", z)["image"] for m, g in generators.items()}


def sigmoid(logit: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(logit, np.float64), -60, 60)))


def verdicts(discriminators: dict, images: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Every D on every image set: {D's model: {set name: P(real) per image (N,)}}.

    Each D is trained against its own G only, so its verdict on the other G's samples (and on real digits) is an
    outside view: a D that calls the other G's samples fake is seeing flaws its own G does not make.
    """
    return {d: {k: sigmoid(rt.run_batched(s, "image", np.asarray(x, np.float32))["logit"][:, 0])
                for k, x in images.items()} for d, s in discriminators.items()}


def labels(classifier, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(label, confidence) per image from the judge (classifier.onnx): argmax and its softmax probability."""
    logits, _ = rt.classify(classifier, images)
    z = logits - logits.max(1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    return p.argmax(1), p.max(1)


def side_by_side(generators: dict, discriminators: dict, classifier, seed: int, n: int = 16,
                 real: np.ndarray | None = None) -> dict:
    """Everything one view shows, per generator, from one seed.

    Returns {'z': (n, 100), 'models': {model: {'images', 'labels', 'confidence', 'verdicts': {D model: (n,)}}},
    'real': {'images', 'verdicts'} (when real digits are given)}. P(real) in [0, 1]; labels from the judge.
    """
    imgs = samples(generators, seed, n)
    sets = dict(imgs)
    if real is not None:
        sets["real"] = rt.to_model_input(real)[:MAX_SAMPLES]
    v = verdicts(discriminators, sets)
    out = {"z": same_noise(seed, n), "models": {}}
    for m, x in imgs.items():
        lab, conf = labels(classifier, x)
        out["models"][m] = {"images": x, "labels": lab, "confidence": conf,
                            "verdicts": {d: v[d][m] for d in v}}
    if real is not None:
        out["real"] = {"images": sets["real"], "verdicts": {d: v[d]["real"] for d in v}}
    return out


def class_shares(generators: dict, classifier, n: int = 1000, seed: int = 0) -> dict[str, dict]:
    """Per generator: {'counts': (10,) int, 'fractions': (10,), 'max': float, 'confident': share the judge is
    >= 90 % sure of}, over n samples of the same noise."""
    out = {}
    for m, x in samples(generators, seed, n).items():
        lab, conf = labels(classifier, x)
        counts = np.bincount(lab, minlength=10)[:10]
        out[m] = {"counts": counts, "fractions": counts / counts.sum(), "max": float(counts.max() / counts.sum()),
                  "confident": float((conf >= 0.9).mean())}
    return out


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(a random ``pos`` score > a random ``neg`` score), ties counting half (the Mann-Whitney AUC)."""
    pos = np.asarray(pos, np.float64).ravel()[:MAX_SAMPLES, None]
    neg = np.asarray(neg, np.float64).ravel()[None, :MAX_SAMPLES]
    return float((pos > neg).mean() + 0.5 * (pos == neg).mean())


def verdict_summary(discriminators: dict, generators: dict, real: np.ndarray, n: int = 500, seed: int = 0) -> dict:
    """How each D sees real digits and each G's samples: {D model: {'mean': {set: mean P(real)},
    'auc': {model: AUC of real digits against that G's samples}}}.

    A D trained to its equilibrium says about 0.5 to everything (the DCGAN's does, held there by the R1 penalty),
    so the mean alone hides what it still sees; the AUC (0.5: cannot tell them apart, 1: always can) does not.
    """
    sets = {"real": rt.to_model_input(real)[:_n(n)], **samples(generators, seed, n)}
    out = {}
    for d, per in verdicts(discriminators, sets).items():
        out[d] = {"mean": {k: float(p.mean()) for k, p in per.items()},
                  "auc": {m: auc(per["real"], per[m]) for m in generators}}
    return out


def load_quality(exported_dir: str | os.PathLike = EXPORTED) -> dict:
    """dcgan_quality.json: {'rows': {'real', 'blurred', 'gan', 'dcgan': {fid, kid_x1000, precision, recall, ...}},
    'n', 'noise_seed', ...}; 'real' is the real-vs-real floor."""
    # sha256 checked against the manifest, then the schema (contracts): an ArtifactError names the rebuild command
    return validate_json(QUALITY_FILE, parse_json(QUALITY_FILE, read_artifact(QUALITY_FILE, exported_dir)))


def quality_rows(table: dict) -> list[dict]:
    """The quality table as rows in display order (floor, blurred, text's GAN, DCGAN), each with 'set'."""
    order = ["real", "blurred", *MODELS]
    names = {"real": "real digits (floor)", "blurred": "real digits blurred 3x3", **TITLES}
    return [{"set": names[k], "key": k, **table["rows"][k]} for k in order if k in table["rows"]]


def load_timelines(exported_dir: str | os.PathLike = EXPORTED) -> dict[str, dict]:
    """{model: {'images': uint8 (E, 64, 28, 28), 'epochs': (E,)}}: both timelines use the same 64 noise vectors."""
    files = {"gan": "gan_timeline.npz", "dcgan": "dcgan_timeline.npz"}
    out = {}
    for m, name in files.items():
        out[m] = validate_npz(name, parse_npz(name, read_artifact(name, exported_dir)))
    return out


def architecture(cards: dict[str, dict]) -> list[dict]:
    """Rows comparing the generators from their model cards: parameters, selected epoch, what differs."""
    rows = []
    for m, card in cards.items():
        tr = card.get("training", {})
        rows.append({"model": m, "title": TITLES.get(m, m), "architecture": card.get("architecture"),
                     "parameters": card.get("parameters"), "epochs": tr.get("epochs"),
                     "selected_epoch": tr.get("selected_epoch"), "labels_used": tr.get("labels_used", "coach" in tr),
                     "differences": card.get("differences_from_source", [])})
    return rows
