"""int8 twins of the exported fp32 graphs (numpy + onnxruntime only): names, drift figures, what a page shows.

Every ``NAME.int8.onnx`` in exported/ is built by ``python -m core.quantize`` from ``NAME.onnx`` and carries a
model card whose ``int8`` section names its fp32 source (file and sha256), the quantiser settings, size, speed and
the drift measured on the test data. The measuring functions here are shared by the quantiser and the tests, so a
figure on a card and its re-check are computed one way. The page-facing functions read cards and the manifest
and return plain rows; they never build figures or touch streamlit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from core import EXPORTED
from core.manifest import ArtifactError, read_manifest

INT8_SUFFIX = ".int8.onnx"


# --------------------------------------------------------------------------------------------------- names

def is_int8(name: str) -> bool:
    return name.endswith(INT8_SUFFIX)


def int8_name(fp32_name: str) -> str:
    """``classifier.onnx`` -> ``classifier.int8.onnx`` (ValueError for anything that is not a fp32 ONNX name)."""
    if not fp32_name.endswith(".onnx") or is_int8(fp32_name):
        raise ValueError(f"not a fp32 ONNX file name: {fp32_name!r}")
    return fp32_name[: -len(".onnx")] + INT8_SUFFIX


def fp32_name(int8_file: str) -> str:
    """``classifier.int8.onnx`` -> ``classifier.onnx``."""
    if not is_int8(int8_file):
        raise ValueError(f"not an int8 ONNX file name: {int8_file!r}")
    return int8_file[: -len(INT8_SUFFIX)] + ".onnx"


def int8_twin(fp32_file: str, files: dict) -> str | None:
    """The int8 twin of ``fp32_file`` if the manifest's ``files`` lists one, else None."""
    if not fp32_file.endswith(".onnx") or is_int8(fp32_file):
        return None
    twin = int8_name(fp32_file)
    return twin if twin in files else None


# --------------------------------------------------------------------------------------------- drift measures

def _abs_stats(a: np.ndarray, b: np.ndarray) -> dict:
    d = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))
    return {"max_abs_diff": float(d.max()) if d.size else 0.0, "mean_abs_diff": float(d.mean()) if d.size else 0.0}


def classifier_drift(logits_fp32: np.ndarray, logits_int8: np.ndarray, labels: np.ndarray,
                     features_fp32: np.ndarray | None = None, features_int8: np.ndarray | None = None) -> dict:
    """Accuracy of both, how many predictions the int8 graph changes, and how far its logits/features move."""
    p32, p8 = logits_fp32.argmax(1), logits_int8.argmax(1)
    out = {
        "accuracy": {"fp32": float((p32 == labels).mean()), "int8": float((p8 == labels).mean())},
        "predictions_changed": {"count": int((p32 != p8).sum()), "of": int(len(labels))},
        "logits": _abs_stats(logits_fp32, logits_int8),
    }
    if features_fp32 is not None and features_int8 is not None:
        out["features"] = _abs_stats(features_fp32, features_int8)
    return out


def mse(x: np.ndarray, y: np.ndarray) -> float:
    """Per-pixel MSE averaged over images (float64), as the fp32 cards report it."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return float(((x - y) ** 2).reshape(len(x), -1).mean(axis=1).mean())


def autoencoder_drift(x: np.ndarray, rec: dict[str, np.ndarray], z_fp32: np.ndarray, z_int8: np.ndarray) -> dict:
    """``rec`` holds reconstructions of ``x`` by the pairs 'fp32' (both fp32), 'int8' (both int8), 'encoder_int8'
    (int8 encoder, fp32 decoder) and 'decoder_int8' (fp32 encoder, int8 decoder)."""
    return {
        "mse": {"fp32": mse(x, rec["fp32"]), "int8": mse(x, rec["int8"])},
        "mse_encoder_int8_only": mse(x, rec["encoder_int8"]),
        "mse_decoder_int8_only": mse(x, rec["decoder_int8"]),
        "z": _abs_stats(z_fp32, z_int8),
        "reconstruction": _abs_stats(rec["fp32"], rec["int8"]),
    }


def _lower_triangle(a: np.ndarray) -> np.ndarray:
    """The valid weights of a decoder self-attention map [..., T, T] (row t over positions <= t)."""
    T = a.shape[-1]
    return a[..., np.tril(np.ones((T, T), dtype=bool))]


def attention_drift(ref: list[dict], got: list[dict]) -> dict:
    """How far attention moves between two decodings of the same inputs on the same output prefix.

    ``ref``/``got`` are ``core.runtime.decode.decode_ids`` results (``got`` forced onto ``ref``'s tokens, so every
    map has the same shape). Per kind of map: the largest and the mean absolute change over every valid weight.
    """
    kinds = [k for k in ("cross", "enc_self", "dec_self") if k in ref[0]]
    out = {}
    for k in kinds:
        worst, total, count = 0.0, 0.0, 0
        for r, g in zip(ref, got):
            a, b = np.asarray(r[k], np.float64), np.asarray(g[k], np.float64)
            if a.shape != b.shape:
                raise ValueError(f"{k}: shapes {a.shape} and {b.shape} differ; force both onto one prefix")
            d = np.abs(a - b)
            if k == "dec_self":
                d = _lower_triangle(d)
            if d.size:
                worst = max(worst, float(d.max()))
                total += float(d.sum())
                count += d.size
        out[k] = {"max_abs_diff": worst, "mean_abs_diff": total / max(1, count)}
    return out


def exact_match(outputs: list[str], targets: list[str], fmts: list[str]) -> tuple[float, dict[str, float]]:
    hits = np.array([o == t for o, t in zip(outputs, targets)])
    per = {f: float(hits[[i for i, g in enumerate(fmts) if g == f]].mean()) for f in dict.fromkeys(fmts)}
    return float(hits.mean()), per


def seq_drift(targets: list[str], fmts: list[str], out_fp32: list[str], out_int8: list[str],
              attention: dict) -> dict:
    """Exact match of both (overall and per format), outputs the int8 graphs change, and the attention drift."""
    em32, per32 = exact_match(out_fp32, targets, fmts)
    em8, per8 = exact_match(out_int8, targets, fmts)
    return {
        "exact_match": {"fp32": em32, "int8": em8},
        "exact_match_per_format": {f: {"fp32": per32[f], "int8": per8[f]} for f in per32},
        "outputs_changed": {"count": int(sum(a != b for a, b in zip(out_fp32, out_int8))), "of": len(targets)},
        "attention": attention,
    }


# ------------------------------------------------------------------------------------------- what a page shows

_LABELS = {  # drift keys on an int8 card -> catalogue keys (core/i18n/strings/int8.toml)
    "accuracy": "accuracy", "predictions_changed": "predictions_changed", "logits": "logits",
    "features": "features", "mse": "mse", "mse_encoder_int8_only": "mse_encoder_int8_only",
    "mse_decoder_int8_only": "mse_decoder_int8_only", "z": "z", "reconstruction": "reconstruction",
    "exact_match": "exact_match", "outputs_changed": "outputs_changed", "cross": "cross",
    "enc_self": "enc_self", "dec_self": "dec_self",
}


def _label(key: str, lang: str) -> str:
    from core import i18n

    k = f"int8.{_LABELS.get(key, key)}"
    return i18n.t(k, lang) if i18n.has(k) else key


def drift_rows(card: dict, lang: str = "en") -> list[dict]:
    """An int8 card's drift as table rows {metric, fp32, int8, change} (plain numbers and strings, no markup), the
    metric names in ``lang``."""
    from core import i18n

    drift = (card.get("int8") or {}).get("drift") or {}
    data = drift.get("data", "")
    rows: list[dict] = []
    for key, val in drift.items():
        if key in ("data", "note"):
            continue
        label = _label(key, lang)
        if isinstance(val, dict) and {"fp32", "int8"} <= set(val):
            rows.append({"metric": label, "fp32": val["fp32"], "int8": val["int8"],
                         "change": float(val["int8"]) - float(val["fp32"])})
        elif isinstance(val, dict) and {"count", "of"} <= set(val):
            rows.append({"metric": label, "fp32": None, "int8": i18n.t("int8.n_of", lang, n=val["count"],
                                                                         of=val["of"]), "change": None})
        elif isinstance(val, (int, float)):
            rows.append({"metric": label, "fp32": None, "int8": val, "change": None})
        elif key == "exact_match_per_format":
            for fmt, v in val.items():
                rows.append({"metric": i18n.t("int8.exact_fmt", lang, fmt=fmt), "fp32": v["fp32"], "int8": v["int8"],
                             "change": float(v["int8"]) - float(v["fp32"])})
        elif key == "attention" or (isinstance(val, dict) and "max_abs_diff" in val):
            parts = val.items() if key == "attention" else [(key, val)]
            for k, v in parts:
                name = _label(k, lang)
                rows.append({"metric": i18n.t("int8.largest", lang, name=name), "fp32": None,
                             "int8": v["max_abs_diff"], "change": None})
                rows.append({"metric": i18n.t("int8.mean", lang, name=name), "fp32": None,
                             "int8": v["mean_abs_diff"], "change": None})
    for r in rows:
        r["data"] = _data_text(data, lang)
    return rows


def _data_text(data: str, lang: str) -> str:
    """The card's description of the drift data ("t10k (10000 digits)") in ``lang``."""
    import re

    from core import i18n

    if m := re.fullmatch(r"t10k \((\d+) digits\)", data):
        return i18n.t("int8.data_t10k", lang, n=f"{int(m.group(1)):,}")
    if m := re.fullmatch(r"date test split \((\d+) examples, (\d+) per format\)", data):
        return i18n.t("int8.data_dates", lang, n=f"{int(m.group(1)):,}", k=m.group(2))
    return data


def speed_rows(card: dict) -> list[dict]:
    """An int8 card's speed as rows {batch, fp32_ms, int8_ms, speedup} (ORT, one thread, median)."""
    speed = (card.get("int8") or {}).get("speed") or {}
    rows = []
    for key, v in speed.items():
        if key.startswith("batch_") and isinstance(v, dict):
            rows.append({"batch": int(key.split("_")[1]), "fp32_ms": v["fp32_ms"], "int8_ms": v["int8_ms"],
                         "speedup": v["speedup"]})
    return sorted(rows, key=lambda r: r["batch"])


def stale_reason(card: dict, fp32_sha256: str | None) -> str | None:
    """Why an int8 file no longer matches its fp32 source (its card names another sha256), else None."""
    src = (card.get("int8") or {}).get("source") or {}
    name, want = src.get("file", "?"), src.get("sha256")
    if not want:
        return "its model card names no fp32 source"
    if fp32_sha256 is None:
        return f"its fp32 source `{name}` is not in the manifest"
    if want != fp32_sha256:
        return (f"it was quantised from `{name}` with sha256 {want[:12]}…, which is now {fp32_sha256[:12]}…; "
                f"rebuild it with: `{rebuild_hint(card)}`")
    return None


def rebuild_hint(card: dict) -> str:
    src = (card.get("int8") or {}).get("source") or {}
    return f"python -m core.quantize {str(src.get('file', card.get('name', 'all'))).split('.')[0]}"


@dataclass
class Int8Variant:
    """What the Models page's fp32/int8 switch shows for one fp32 file."""
    fp32_file: str
    int8_file: str
    fp32_bytes: int
    int8_bytes: int
    settings: dict
    drift: list[dict]
    speed: list[dict]
    stale: str | None = None  # a reason when the int8 file was made from another fp32 file
    card: dict = field(default_factory=dict, repr=False)

    @property
    def size_ratio(self) -> float:
        return self.int8_bytes / self.fp32_bytes if self.fp32_bytes else float("nan")


def variant_from_card(fp32_file: str, files: dict, int8_card: dict) -> Int8Variant:
    """Pure: the switch's data from the manifest's ``files`` and the int8 file's card."""
    twin = int8_name(fp32_file)
    q = int8_card.get("int8") or {}
    return Int8Variant(
        fp32_file=fp32_file, int8_file=twin, fp32_bytes=int(files.get(fp32_file, {}).get("bytes", 0)),
        int8_bytes=int(files.get(twin, {}).get("bytes", 0)), settings=dict(q.get("quantizer") or {}),
        drift=drift_rows(int8_card), speed=speed_rows(int8_card),
        stale=stale_reason(int8_card, files.get(fp32_file, {}).get("sha256")), card=int8_card,
    )


def load_variant(fp32_file: str, exported_dir: str | os.PathLike = EXPORTED) -> Int8Variant | None:
    """The int8 twin of ``exported/<fp32_file>`` (checked against the manifest) with its drift, or None if none is
    listed. ModelError (fit to show) if the twin is missing or corrupt."""
    from core.runtime.session import ModelError, load_model

    try:
        files = read_manifest(exported_dir).get("files", {})
    except ArtifactError as exc:
        raise ModelError(str(exc)) from exc
    twin = int8_twin(fp32_file, files)
    if twin is None:
        return None
    m = load_model(twin, "cpu", exported_dir, threads=1)
    return variant_from_card(fp32_file, files, m.card)
