"""What the dashboard expects of every artifact it loads, in one table, and the validators that hold files to it.

A file is checked when it is loaded (core.runtime.session.load_model, the loaders in core.runtime.mnist and
core.runtime.artifacts) and when an export commits it (core.transaction). A mismatch is one ArtifactError that
names the file and the command that rebuilds it; nothing else escapes (no KeyError, no numpy error, no traceback).

Shapes: an int is a fixed size the graph must have; a letter names a size that may vary (the same letter within one
file means the same size); ``"B"`` is the batch axis, which must be dynamic (the pages run batches of any size).
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import zipfile
from pathlib import Path

import numpy as np

from core.manifest import ArtifactError, excerpt, rebuild_command

IMAGE = ("float32", ["B", 1, 28, 28])  # every image tensor: [0, 1], ink = 1

# file -> {"inputs": {name: (dtype, shape)}, "outputs": {...}}: what the pages feed and read.
ONNX_CONTRACTS: dict[str, dict[str, dict[str, tuple[str, list]]]] = {
    "autoencoder.encoder.onnx": {"inputs": {"image": IMAGE}, "outputs": {"z": ("float32", ["B", 32])}},
    "autoencoder.decoder.onnx": {"inputs": {"z": ("float32", ["B", 32])}, "outputs": {"image": IMAGE}},
    "autoencoder_2d.encoder.onnx": {"inputs": {"image": IMAGE}, "outputs": {"z": ("float32", ["B", 2])}},
    "autoencoder_2d.decoder.onnx": {"inputs": {"z": ("float32", ["B", 2])}, "outputs": {"image": IMAGE}},
    "conv_autoencoder.encoder.onnx": {"inputs": {"image": IMAGE}, "outputs": {"z": ("float32", ["B", 32])}},
    "conv_autoencoder.decoder.onnx": {"inputs": {"z": ("float32", ["B", 32])}, "outputs": {"image": IMAGE}},
    "classifier.onnx": {"inputs": {"image": IMAGE},
                        "outputs": {"logits": ("float32", ["B", 10]), "features": ("float32", ["B", "F"])}},
    "gan.generator.onnx": {"inputs": {"z": ("float32", ["B", 100])}, "outputs": {"image": IMAGE}},
    "gan.discriminator.onnx": {"inputs": {"image": IMAGE}, "outputs": {"logit": ("float32", ["B", 1])}},
    "dcgan.generator.onnx": {"inputs": {"z": ("float32", ["B", 100])}, "outputs": {"image": IMAGE}},
    "dcgan.discriminator.onnx": {"inputs": {"image": IMAGE}, "outputs": {"logit": ("float32", ["B", 1])}},
    "fid_features.onnx": {"inputs": {"image": IMAGE},
                          "outputs": {"logits": ("float32", ["B", 10]), "features": ("float32", ["B", "F"]),
                                      "strokes": ("float32", ["B", "S"])}},
    "transformer.encoder.onnx": {
        "inputs": {"src": ("int64", ["B", "S"])},
        "outputs": {"memory": ("float32", ["B", "S", "D"]), "enc_self_attn": ("float32", ["L", "B", "H", "S", "S"])}},
    "transformer.decoder_step.onnx": {
        "inputs": {"token": ("int64", ["B"]), "memory": ("float32", ["B", "S", "D"]),
                   "src_mask": ("bool", ["B", "S"]), "cache": ("float32", ["L", 2, "B", "H", "T", "K"])},
        "outputs": {"logits": ("float32", ["B", "V"]), "new_cache": ("float32", ["L", 2, "B", "H", "T1", "K"]),
                    "dec_self_attn": ("float32", ["L", "B", "H", "T1"]), "cross_attn": ("float32", ["L", "B", "H", "S"])}},
    "seq2seq_attention.encoder.onnx": {
        "inputs": {"src": ("int64", ["B", "S"])},
        "outputs": {"enc_states": ("float32", ["B", "S", "E"]), "enc_keys": ("float32", ["B", "S", "A"]),
                    "state": ("float32", ["B", "Hd"])}},
    "seq2seq_attention.decoder_step.onnx": {
        "inputs": {"token": ("int64", ["B"]), "state": ("float32", ["B", "Hd"]),
                   "enc_states": ("float32", ["B", "S", "E"]), "enc_keys": ("float32", ["B", "S", "A"]),
                   "src_mask": ("bool", ["B", "S"])},
        "outputs": {"logits": ("float32", ["B", "V"]), "new_state": ("float32", ["B", "Hd"]),
                    "attn": ("float32", ["B", "S"])}},
}

# file -> {array: (dtype, shape)}: exactly these arrays (letters: sizes shared within the file, each >= 1).
NPZ_SCHEMAS: dict[str, dict[str, tuple[str, list]]] = {
    "examples.npz": {"images": ("uint8", ["N", 28, 28]), "labels": ("int64", ["N"])},
    "pca.npz": {"mean": ("float32", [784]), "components": ("float32", ["K", 784]),
                "components_2": ("float32", [2, 784])},
    "gan_timeline.npz": {"images": ("uint8", ["E", "M", 28, 28]), "epochs": ("int64", ["E"])},
    "dcgan_timeline.npz": {"images": ("uint8", ["E", "M", 28, 28]), "epochs": ("int64", ["E"])},
}
HISTORY_ROW_KEYS = {"gan": ("loss_d", "loss_g"), "dcgan": ("loss_d", "loss_g")}  # what a page plots, beyond "epoch"

MAX_NPZ_MEMBERS = 64
MAX_NPZ_BYTES = 256 << 20  # uncompressed; the largest committed file holds 3.5 MB
MAX_JSON_BYTES = 8 << 20
MAX_HISTORY_ROWS = 100_000
MAX_DATE_EXAMPLES = 1_000

_ORT_TYPES = {"tensor(float)": "float32", "tensor(int64)": "int64", "tensor(bool)": "bool",
              "tensor(int32)": "int32", "tensor(uint8)": "uint8", "tensor(double)": "float64",
              "tensor(float16)": "float16"}
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


def _fail(name: str, why: str) -> ArtifactError:
    """The file, what is wrong with it (a technical detail, in English in every language) and its rebuild command."""
    cmd = rebuild_command(name)
    return ArtifactError(f"{name} is not what the dashboard expects: {why}. Rebuild it with: {cmd}",
                         key="errors.artifact.unexpected", name=name, why=why, cmd=cmd)


def _unreadable(name: str, exc: BaseException) -> ArtifactError:
    why, cmd = exc.__class__.__name__, rebuild_command(name)
    return ArtifactError(f"{name} is unreadable ({why}); rebuild it with: {cmd}", key="errors.artifact.unreadable",
                         name=name, why=why, cmd=cmd)


def _fmt(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


# ------------------------------------------------------------------------------------------------------------- ONNX
def _io(session, kind: str) -> dict[str, tuple[str, list]]:
    items = session.get_inputs() if kind == "inputs" else session.get_outputs()
    return {a.name: (_ORT_TYPES.get(a.type, a.type), list(a.shape or [])) for a in items}


def _dims_match(name: str, what: str, got: list, want: list, sizes: dict) -> None:
    if len(got) != len(want):
        raise _fail(name, f"{what} has {len(got)} dimensions {_fmt(got)}, expected {len(want)} {_fmt(want)}")
    for g, w in zip(got, want):
        if isinstance(w, int) and g != w:
            raise _fail(name, f"{what} has shape {_fmt(got)}, expected {_fmt(want)}")
        if w == "B" and isinstance(g, int):
            raise _fail(name, f"{what} has a fixed batch size {g}; the pages need a dynamic batch axis")
        if isinstance(w, str) and w != "B" and isinstance(g, int):  # a letter's fixed size is the same everywhere
            if sizes.setdefault(w, g) != g:
                raise _fail(name, f"{what} has shape {_fmt(got)}: size {w} is {g} here and {sizes[w]} elsewhere")


def _variant_base(name: str, card: dict) -> str:
    """``x.int8.onnx`` whose card says ``"variant": "int8"`` -> ``x.onnx`` (the file it is a variant of); else name."""
    variant = card.get("variant") if isinstance(card, dict) else None
    suffix = f".{variant}.onnx" if isinstance(variant, str) and variant else None
    return name[: -len(suffix)] + ".onnx" if suffix and name.endswith(suffix) else name


def _card_names(name: str, card: dict) -> None:
    """The card says which model this is: a valid ONNX file of another model under this name is refused."""
    variant = card.get("variant")
    if variant is not None and (not isinstance(variant, str) or not name.endswith(f".{variant}.onnx")):
        raise _fail(name, f"its model card says it is the {excerpt(variant)} variant of another file")
    name = _variant_base(name, card)  # an int8 twin carries the card of its fp32 source, plus "variant"
    stem = name[: -len(".onnx")] if name.endswith(".onnx") else name
    own = card.get("name")
    if own is None:
        return
    if not isinstance(own, str) or own not in (stem, stem.split(".")[0]):
        raise _fail(name, f"its model card says it is {excerpt(own)}")
    graph = card.get("graph")
    if graph is not None and f"{own}.{graph}" != stem:
        raise _fail(name, f"its model card says it is the {excerpt(graph)} graph of {excerpt(own)}")


def _card_io(name: str, card: dict, io_: dict[str, dict]) -> None:
    for kind, shapes_key in (("inputs", "input_shapes"), ("outputs", "output_shapes")):
        listed = card.get(kind)
        if listed is not None:
            if not isinstance(listed, list) or sorted(map(str, listed)) != sorted(io_[kind]):
                raise _fail(name, f"its model card lists {kind} {excerpt(str(listed))}, the graph has "
                                  f"{', '.join(io_[kind]) or 'none'}")
        shapes = card.get(shapes_key)
        if shapes is None:
            continue
        if not isinstance(shapes, dict):
            raise _fail(name, f"its model card's {shapes_key} is not an object")
        for tensor, shape in shapes.items():
            if tensor not in io_[kind]:
                raise _fail(name, f"its model card describes {kind[:-1]} {excerpt(tensor)}, which the graph lacks")
            if not isinstance(shape, list):
                raise _fail(name, f"its model card's shape of {excerpt(tensor)} is not a list")
            _dims_match(name, f"{kind[:-1]} {tensor} (model card)", io_[kind][tensor][1], shape, {})


def _card_seq(name: str, card: dict, io_: dict[str, dict]) -> None:
    """The date models: the pages build their vocabulary, limits and key/value cache from the card."""
    dec = card.get("decoding")
    if not isinstance(dec, dict):
        raise _fail(name, "its model card has no decoding section")
    vocab = dec.get("vocab")
    if not isinstance(vocab, list) or len(vocab) < 4 or not all(isinstance(t, str) for t in vocab):
        raise _fail(name, "its model card's vocabulary is missing or malformed")
    for key, hi in (("max_src_len", 4096), ("max_tgt_len", 4096)):
        v = dec.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= hi:
            raise _fail(name, f"its model card's {key} is not a whole number from 1 to {hi}")
    logits = io_["outputs"].get("logits")
    if logits and isinstance(logits[1][-1], int) and logits[1][-1] != len(vocab):
        raise _fail(name, f"its logits have {logits[1][-1]} entries, its vocabulary {len(vocab)}")
    if _variant_base(name, card).startswith("transformer."):
        cfg = card.get("config")
        keys = ("n_dec_layer", "n_head", "d_model")
        if not isinstance(cfg, dict) or not all(isinstance(cfg.get(k), int) and cfg.get(k) > 0 for k in keys) \
                or cfg["d_model"] % cfg["n_head"]:
            raise _fail(name, "its model card's config lacks n_dec_layer, n_head and d_model")
        cache = io_["inputs"].get("cache")
        if cache:
            want = [cfg["n_dec_layer"], 2, "B", cfg["n_head"], "T", cfg["d_model"] // cfg["n_head"]]
            _dims_match(name, "input cache (model card config)", cache[1], want, {})


def check_onnx(name: str, session, card: dict) -> None:
    """An opened ONNX session against the contract table and its own model card; ArtifactError on a mismatch.

    ``session`` is an onnxruntime.InferenceSession; ``card`` its model card (``{}`` when it has none).
    """
    if not isinstance(card, dict):
        raise _fail(name, "its model card is not a JSON object")
    try:
        io_ = {"inputs": _io(session, "inputs"), "outputs": _io(session, "outputs")}
    except ValueError as exc:  # names or types that are not UTF-8
        raise _fail(name, "its input and output descriptions are unreadable") from exc
    contract = ONNX_CONTRACTS.get(_variant_base(name, card))  # an int8 twin is held to its fp32 file's contract
    if contract is not None:
        if not card:
            raise _fail(name, "it has no model card")
        sizes: dict = {}
        for kind in ("inputs", "outputs"):
            want, got = contract[kind], io_[kind]
            if set(want) != set(got):
                raise _fail(name, f"its {kind} are {', '.join(got) or 'none'}; expected {', '.join(want)}")
            for tensor, (dtype, shape) in want.items():
                if got[tensor][0] != dtype:
                    raise _fail(name, f"{kind[:-1]} {tensor} is {got[tensor][0]}, expected {dtype}")
                _dims_match(name, f"{kind[:-1]} {tensor}", got[tensor][1], shape, sizes)
    _card_names(name, card)  # same inputs and outputs, another model (conv_autoencoder under autoencoder's name)
    if contract is not None and _variant_base(name, card).startswith(("transformer.", "seq2seq_attention.")):
        _card_seq(name, card, io_)
    _card_io(name, card, io_)


# -------------------------------------------------------------------------------------------------------------- npz
def parse_npz(name: str, data: bytes) -> dict[str, np.ndarray]:
    """The arrays of an .npz file's bytes (no pickles; member count and uncompressed size capped)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_NPZ_MEMBERS or sum(i.file_size for i in infos) > MAX_NPZ_BYTES:
                raise _fail(name, "it is too large to be one of ours")
            if not all(i.filename.endswith(".npy") for i in infos):
                raise _fail(name, "it holds something other than arrays")
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except ArtifactError:
        raise
    except Exception as exc:  # zipfile, zlib, numpy's format reader: truncated or damaged in any way
        raise _unreadable(name, exc) from exc


def _check_arrays(name: str, arrays: dict, schema: dict[str, tuple[str, list]]) -> None:
    if set(arrays) != set(schema):
        raise _fail(name, f"it holds {', '.join(sorted(arrays)) or 'no arrays'}; expected {', '.join(schema)}")
    sizes: dict[str, int] = {}
    for key, (dtype, shape) in schema.items():
        a = arrays[key]
        if a.dtype != np.dtype(dtype):
            raise _fail(name, f"{key} is {a.dtype}, expected {dtype}")
        if a.ndim != len(shape):
            raise _fail(name, f"{key} has shape {_fmt(a.shape)}, expected {_fmt(shape)}")
        for got, want in zip(a.shape, shape):
            if isinstance(want, int) and got != want:
                raise _fail(name, f"{key} has shape {_fmt(a.shape)}, expected {_fmt(shape)}")
            if isinstance(want, str) and (got < 1 or sizes.setdefault(want, got) != got):
                raise _fail(name, f"{key} has shape {_fmt(a.shape)}: {want} must be >= 1 and the same in every array")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise _fail(name, f"{key} holds values that are not finite")


def _reference_schema(name: str, arrays: dict) -> None:
    stem = name[len("reference/"):-len(".npz")]
    contract = ONNX_CONTRACTS.get(stem + ".onnx")
    for key, a in arrays.items():
        if not key.startswith(("in__", "out__")) or a.dtype.kind not in "biuf":
            raise _fail(name, f"{excerpt(key)} is not a stored input or output")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise _fail(name, f"{key} holds values that are not finite")
    if contract is None:
        return
    want = {f"in__{k}": v for k, v in contract["inputs"].items()} | {f"out__{k}": v for k, v in contract["outputs"].items()}
    if set(arrays) != set(want):
        raise _fail(name, f"it holds {', '.join(sorted(arrays))}; expected {', '.join(want)}")
    for key, (dtype, shape) in want.items():
        a = arrays[key]
        if a.dtype != np.dtype(dtype) or a.ndim != len(shape) or any(
                isinstance(w, int) and g != w for g, w in zip(a.shape, shape)):
            raise _fail(name, f"{key} is {a.dtype} {_fmt(a.shape)}, expected {dtype} {_fmt(shape)}")


def validate_npz(name: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Arrays of a known .npz artifact checked by schema (keys, dtypes, shapes, finite values, value ranges)."""
    if name in NPZ_SCHEMAS:
        _check_arrays(name, arrays, NPZ_SCHEMAS[name])
        if name == "examples.npz" and (arrays["labels"].min() < 0 or arrays["labels"].max() > 9):
            raise _fail(name, "its labels are not all digits 0-9")
        if name in ("gan_timeline.npz", "dcgan_timeline.npz"):
            e = arrays["epochs"]
            if e[0] < 1 or (len(e) > 1 and not (np.diff(e) > 0).all()):
                raise _fail(name, "its epochs are not increasing from 1")
    elif name.startswith("reference/"):
        _reference_schema(name, arrays)
    return arrays


# ------------------------------------------------------------------------------------------------------------- JSON
def parse_json(name: str, data: bytes):
    if len(data) > MAX_JSON_BYTES:
        raise _fail(name, "it is too large to be one of ours")
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise _unreadable(name, exc) from exc


def _plain_value(v) -> bool:
    if v is None or isinstance(v, (bool, str)):
        return not isinstance(v, str) or len(v) <= 10_000
    if isinstance(v, (int, float)):
        return math.isfinite(v)
    return False


def _check_history(name: str, obj) -> None:
    model = name[len("history/"):-len(".json")]
    if not isinstance(obj, dict):
        raise _fail(name, "a history must be an object with model and epochs")
    if obj.get("model") != model:
        raise _fail(name, f"it is the history of {excerpt(obj.get('model'))}, not of {model}")
    rows = obj.get("epochs")
    if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_HISTORY_ROWS:
        raise _fail(name, "its epochs is not a list of per-epoch rows")
    need = HISTORY_ROW_KEYS.get(model, ())
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or row.get("epoch") != i + 1 or isinstance(row.get("epoch"), bool):
            raise _fail(name, f"row {i + 1} of epochs is not an object with epoch = {i + 1}")
        if not all(isinstance(k, str) and _plain_value(v) for k, v in row.items()):
            raise _fail(name, f"row {i + 1} of epochs holds a value that is not a finite number or text")
        missing = [k for k in need if not isinstance(row.get(k), (int, float)) or isinstance(row.get(k), bool)]
        if missing:
            raise _fail(name, f"row {i + 1} of epochs lacks {', '.join(missing)}")


def _check_dates_examples(name: str, obj) -> None:
    items = obj.get("examples") if isinstance(obj, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_DATE_EXAMPLES:
        raise _fail(name, "it must be an object whose examples is a list of examples")
    for i, e in enumerate(items):
        ok = isinstance(e, dict) and isinstance(e.get("source"), str) and 0 < len(e["source"]) <= 256 \
            and isinstance(e.get("target"), str) and _ISO.fullmatch(e["target"]) \
            and all(isinstance(e.get(k, ""), str) and len(e.get(k, "")) <= 64 for k in ("format", "case"))
        if not ok:
            raise _fail(name, f"example {i + 1} is not a source text with a YYYY-MM-DD target")


QUALITY_ROWS = ("real", "blurred")  # dcgan_quality.json: the floor and blurred digits are always there
QUALITY_KEYS = ("fid", "kid_x1000", "precision", "recall")


def _check_quality(name: str, obj) -> None:
    rows = obj.get("rows") if isinstance(obj, dict) else None
    if not isinstance(rows, dict) or not all(k in rows for k in QUALITY_ROWS):
        raise _fail(name, "its rows must hold the real-vs-real floor and blurred digits")
    for k, row in rows.items():
        if not isinstance(row, dict) or not all(isinstance(row.get(f), (int, float)) and not isinstance(row.get(f), bool)
                                                and math.isfinite(row[f]) for f in QUALITY_KEYS):
            raise _fail(name, f"row {excerpt(k)} lacks finite {', '.join(QUALITY_KEYS)}")


def validate_json(name: str, obj):
    """A known JSON artifact checked by schema: history/<model>.json, dates_examples.json, dcgan_quality.json."""
    if name.startswith("history/") and name.endswith(".json"):
        _check_history(name, obj)
    elif name == "dates_examples.json":
        _check_dates_examples(name, obj)
    elif name == "dcgan_quality.json":
        _check_quality(name, obj)
    return obj


# ----------------------------------------------------------------------------------------------------- any file
def open_onnx_bytes(name: str, data: bytes, threads: int | None = 1):
    """An onnxruntime session over an ONNX file's bytes (CPU); ArtifactError when onnxruntime refuses it."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        why = str(exc).splitlines()[0][:160] if str(exc) else exc.__class__.__name__
        cmd = rebuild_command(name)
        raise ArtifactError(f"{name} could not be loaded by onnxruntime ({why}). Rebuild it with: {cmd}",
                            key="errors.artifact.ort_refused", name=name, why=why, cmd=cmd) from exc


def read_card(session) -> dict:
    """The JSON model card in an ONNX file's metadata; {} when it has none, ArtifactError-free."""
    try:
        raw = session.get_modelmeta().custom_metadata_map.get("model_card")
        card = json.loads(raw) if raw else {}
    except (ValueError, RecursionError):
        return {"name": None, "_unreadable": True}
    return card if isinstance(card, dict) else {"name": None, "_unreadable": True}


def validate_bytes(name: str, data: bytes) -> None:
    """Validate an artifact's bytes by its kind (ONNX, npz, JSON); other files pass. ArtifactError on a mismatch."""
    if name.endswith(".onnx"):
        session = open_onnx_bytes(name, data)
        card = read_card(session)
        if card.get("_unreadable"):
            raise _fail(name, "its model card is not readable JSON")
        check_onnx(name, session, card)
    elif name.endswith(".npz"):
        validate_npz(name, parse_npz(name, data))
    elif name.endswith(".json"):
        validate_json(name, parse_json(name, data))


def validate_file(name: str, path: str | os.PathLike) -> None:
    """validate_bytes on a file (the export transaction's check of every new or changed artifact)."""
    validate_bytes(name, Path(path).read_bytes())
