"""Dynamic int8 twins of the MatMul/Gemm-heavy exported graphs: ``exported/NAME.int8.onnx`` beside ``NAME.onnx``.

    python -m core.quantize [classifier|autoencoder|autoencoder_2d|conv_autoencoder|seq2seq_attention|transformer|all]

Dev side (onnx + onnxruntime.quantization + numpy; no torch). For each model it

1. checks the fp32 files against the manifest and hashes the bytes it quantises;
2. builds every candidate setting (per_channel x reduce_range x weight type, and for graphs with convolutions
   whether their weights are *stored* in int8) with ``onnxruntime.quantization.quantize_dynamic`` on MatMul only
   (Gemm is rewritten to MatMul first; Conv is never quantised: ConvInteger runs ~11x slower on CPU,
   microsoft/onnxruntime#12854);
3. measures each candidate's drift from fp32 on the *validation* split and picks one by the rule in ``choose``;
4. measures the chosen one on the *test* data (t10k / the 3,000-example date test split) and its speed (ORT, one
   thread, batch 1 and 256, interleaved with fp32, median), writes the card, the files, and the manifest.

Re-run it after a fp32 file changes (e.g. a retrained model): a test fails while an int8 card names a fp32
sha256 that no longer matches.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import numpy as np
import onnx

from core import EXPORTED
from core.atomic import sha256_bytes
from core.errors import UserError
from core.quantize.graph import CONV_OPS, gemm_to_matmul, initializer_dtypes, op_counts, store_conv_weights_int8
from core.runtime import int8 as q8

TARGETS: dict[str, tuple[str, ...]] = {
    "classifier": ("classifier.onnx",),
    "autoencoder": ("autoencoder.encoder.onnx", "autoencoder.decoder.onnx"),
    "autoencoder_2d": ("autoencoder_2d.encoder.onnx", "autoencoder_2d.decoder.onnx"),
    "conv_autoencoder": ("conv_autoencoder.encoder.onnx", "conv_autoencoder.decoder.onnx"),
    "seq2seq_attention": ("seq2seq_attention.encoder.onnx", "seq2seq_attention.decoder_step.onnx"),
    "transformer": ("transformer.encoder.onnx", "transformer.decoder_step.onnx"),
}
OP_TYPES = ("MatMul",)  # after gemm_to_matmul; never Conv
SPEED_BATCHES = (1, 256)


class QuantizeError(UserError):
    pass


@dataclass(frozen=True)
class QuantSettings:
    per_channel: bool = False  # one weight scale per output column instead of one per tensor
    reduce_range: bool = False  # 7-bit weights: avoids u8s8 overflow on x86 without VNNI
    weight_type: str = "QInt8"  # QInt8 | QUInt8 (activations are always QUInt8, quantised at run time)
    conv_weights: str = "fp32"  # fp32 | int8: int8 *storage* only; the Conv still computes in fp32

    def label(self) -> str:
        return (f"per_channel={int(self.per_channel)} reduce_range={int(self.reduce_range)} "
                f"weight={self.weight_type} conv_weights={self.conv_weights}")


def portable(settings: QuantSettings) -> bool:
    """Whether every x86 CPU computes these weights exactly. int8 weights with full-range uint8 activations (u8s8)
    overflow the 16-bit sums of AVX2's vpmaddubsw on CPUs without VNNI: there onnxruntime's answers drift (the 2-D
    autoencoder's decoder by up to 0.78 of a pixel on an AVX2-only AMD EPYC) while a VNNI CPU and onnxruntime-web
    compute them exactly. uint8 weights (u8u8) or 7-bit weights (reduce_range) are exact everywhere."""
    return settings.weight_type == "QUInt8" or settings.reduce_range


def candidates(has_conv: bool) -> list[QuantSettings]:
    """Every portable setting (per_channel x reduce_range x weight type x conv weight storage)."""
    convs = ("fp32", "int8") if has_conv else ("fp32",)
    grid = [QuantSettings(pc, rr, wt, cw) for cw, pc, rr, wt in
            itertools.product(convs, (False, True), (False, True), ("QInt8", "QUInt8"))]
    return [c for c in grid if portable(c)]


def has_conv(model: onnx.ModelProto) -> bool:
    return any(n.op_type in CONV_OPS for n in model.graph.node)


# ----------------------------------------------------------------------------------------------- quantising

def quantize_model(fp32: onnx.ModelProto, settings: QuantSettings) -> tuple[onnx.ModelProto, dict]:
    """The int8 graph of ``fp32`` (not modified) under ``settings``, and what was done to it."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.ModelProto()
    model.CopyFrom(fp32)
    n_gemm = gemm_to_matmul(model)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "int8.onnx"
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # its "consider pre-processing" warning: shape inference runs inside anyway
        try:
            quantize_dynamic(model, out, op_types_to_quantize=list(OP_TYPES), per_channel=settings.per_channel,
                             reduce_range=settings.reduce_range, weight_type=QuantType[settings.weight_type],
                             extra_options={"MatMulConstBOnly": True})
        finally:
            root.setLevel(level)
        q = onnx.load(str(out))
    n_conv = store_conv_weights_int8(q) if settings.conv_weights == "int8" else 0
    del q.metadata_props[:]
    onnx.checker.check_model(q, full_check=True)
    ops = op_counts(q)
    info = {
        "gemm_rewritten_as_matmul": n_gemm,
        "matmul_int8": ops.get("MatMulInteger", 0),
        "matmul_kept_fp32": ops.get("MatMul", 0),
        "conv_weights_stored_int8": n_conv,
        "initializer_bytes": initializer_dtypes(q),
    }
    return q, info


# ------------------------------------------------------------------------------------------------- timing

def median_ms(run, runs: int) -> float:
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        run()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts) * 1e3)


def compare_speed(run_a, run_b, runs: int, rounds: int = 5, warmup: int = 5) -> tuple[float, float]:
    """Median ms of two callables, timed in alternating rounds so a change in machine load hits both alike."""
    for _ in range(warmup):
        run_a(), run_b()
    a, b = [], []
    per = max(1, runs // rounds)
    for _ in range(rounds):
        for run, acc in ((run_a, a), (run_b, b)):
            for _ in range(per):
                t = time.perf_counter()
                run()
                acc.append(time.perf_counter() - t)
    return float(np.median(a) * 1e3), float(np.median(b) * 1e3)


def machine() -> dict:
    """Where a speed figure was measured: CPU, cores, VNNI (u8s8 int8 dot products) and the load average."""
    cpu, flags = platform.processor() or platform.machine(), ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not flags:
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = line
                break
    except OSError:
        pass
    return {
        "cpu": cpu, "cores": os.cpu_count(),
        "vnni": ("avx512_vnni" in flags or "avx_vnni" in flags) if flags else None,
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


# ------------------------------------------------------------------------------------------ families of models

def _open(path: Path):
    from core.runtime.session import open_session

    return open_session(path, "cpu", threads=1)


class MnistFamily:
    """Data shared by the MNIST models: validation digits (selection) and t10k (test figures)."""

    def __init__(self, data_dir=None):
        from core.data.mnist import load_mnist
        from core.runtime.mnist import to_model_input

        m = load_mnist(data_dir)
        _, val = m.split()
        self.val = (to_model_input(m.train_images[val]), m.train_labels[val])
        self.test = (to_model_input(m.test_images), m.test_labels)
        self.data = {"val": f"validation split ({len(val)} digits of the training files, seed 0)",
                     "test": f"t10k ({len(m.test_labels)} digits)"}


class Classifier:
    kind = "classifier"

    def __init__(self, files, fp32, data: MnistFamily):
        self.file, = files
        self.fp32 = fp32[self.file]
        self.data = data
        self.ref = {s: self._run(self.fp32, data.val[0] if s == "val" else data.test[0]) for s in ("val", "test")}

    @staticmethod
    def _run(m, x):
        from core.runtime.mnist import classify

        return classify(m, x)

    def measure(self, int8, split):
        x, y = self.data.val if split == "val" else self.data.test
        logits, feats = self._run(int8[self.file], x)
        return q8.classifier_drift(self.ref[split][0], logits, y, self.ref[split][1], feats)

    budget = "predictions changed <= 0.5 % of the validation digits"
    score_names = ["logits mean |int8 - fp32|"]

    def within_budget(self, d) -> bool:
        return d["predictions_changed"]["count"] <= 0.005 * d["predictions_changed"]["of"]

    def score(self, d) -> tuple:
        return (d["logits"]["mean_abs_diff"],)  # a count of 0 or 1 flips in 800 digits is noise; this is not

    def metrics(self, d) -> dict:
        return {"test_accuracy": d["accuracy"]["int8"], "n_test": d["predictions_changed"]["of"]}

    def speed_feeds(self, name, batch):
        return {"image": self.data.test[0][:batch]}


class Autoencoder:
    kind = "autoencoder"

    def __init__(self, files, fp32, data: MnistFamily):
        self.enc, self.dec = files
        self.fp32 = fp32
        self.data = data
        self.ref = {}
        for s in ("val", "test"):
            x = data.val[0] if s == "val" else data.test[0]
            z = self._encode(fp32[self.enc], x)
            self.ref[s] = (z, self._decode(fp32[self.dec], z))

    @staticmethod
    def _encode(m, x):
        from core.runtime.mnist import encode

        return encode(m, x)

    @staticmethod
    def _decode(m, z):
        from core.runtime.mnist import decode

        return decode(m, z)

    def measure(self, int8, split):
        x = self.data.val[0] if split == "val" else self.data.test[0]
        z32, rec32 = self.ref[split]
        z8 = self._encode(int8[self.enc], x)
        rec = {"fp32": rec32, "int8": self._decode(int8[self.dec], z8),
               "encoder_int8": self._decode(self.fp32[self.dec], z8),
               "decoder_int8": self._decode(int8[self.dec], z32)}
        return q8.autoencoder_drift(x, rec, z32, z8)

    budget = "per-pixel MSE at most 1 % above fp32 on the validation digits"
    score_names = ["MSE int8 / fp32 - 1", "reconstruction mean |int8 - fp32|"]

    @staticmethod
    def _rel(d) -> float:
        return d["mse"]["int8"] / d["mse"]["fp32"] - 1.0

    def within_budget(self, d) -> bool:
        return self._rel(d) <= 0.01

    def score(self, d) -> tuple:
        return (self._rel(d), d["reconstruction"]["mean_abs_diff"])

    def metrics(self, d) -> dict:
        return {"test_mse": d["mse"]["int8"], "n_test": len(self.data.test[0])}

    def speed_feeds(self, name, batch):
        if name == self.enc:
            return {"image": self.data.test[0][:batch]}
        return {"z": self.ref["test"][0][:batch]}


class DateModel:
    kind = "seq"

    def __init__(self, files, fp32, data=None):
        from core.data import dates
        from core.runtime.decode import make_seq_model

        self.enc, self.step = files
        self.name = self.enc.split(".")[0]
        self.card = fp32[self.enc].card
        self.fp32_model = make_seq_model(self.name, self.card, fp32[self.enc].run, fp32[self.step].run)
        self.examples = {"val": dates.val_split(), "test": dates.test_split()}
        self.data_names = {"val": f"date validation split ({len(self.examples['val'])} examples)",
                           "test": f"date test split ({len(self.examples['test'])} examples, 250 per format)"}
        self.ids = {s: [self._encode(e.source) for e in ex] for s, ex in self.examples.items()}
        self.ref = {s: self._decode(self.fp32_model, self.ids[s]) for s in self.examples}

    def _encode(self, text):
        from core.tokenizer import encode_source

        return encode_source(text, self.fp32_model.max_src_len, self.fp32_model.vocab)

    @staticmethod
    def _decode(model, ids, force=None):
        from core.runtime.decode import decode_ids

        return decode_ids(model, ids, force=force)

    def _text(self, r) -> str:
        """The output as the fp32 test reads it: a miss unless the model also ended with <eos>."""
        from core.tokenizer import decode_target

        v = self.fp32_model.vocab
        return decode_target(r["ids"], v) + ("" if r["ids"] and r["ids"][-1] == v.eos_id else "<no eos>")

    def int8_model(self, int8):
        from core.runtime.decode import make_seq_model

        return make_seq_model(self.name, self.card, int8[self.enc].run, int8[self.step].run)

    def measure(self, int8, split):
        m8 = self.int8_model(int8)
        ids, ref = self.ids[split], self.ref[split]
        free = self._decode(m8, ids)
        forced = self._decode(m8, ids, force=[r["ids"] for r in ref])  # same prefix: attention comparable
        ex = self.examples[split]
        return q8.seq_drift([e.target for e in ex], [e.fmt for e in ex], [self._text(r) for r in ref],
                            [self._text(r) for r in free], q8.attention_drift(ref, forced))

    budget = "no output changed on the validation split"
    score_names = ["outputs changed", "attention mean |int8 - fp32|, averaged over map kinds",
                   "cross-attention largest |int8 - fp32|"]

    def within_budget(self, d) -> bool:
        return d["outputs_changed"]["count"] == 0

    def score(self, d) -> tuple:
        att = d["attention"]
        return (d["outputs_changed"]["count"], float(np.mean([v["mean_abs_diff"] for v in att.values()])),
                att["cross"]["max_abs_diff"])

    def metrics(self, d) -> dict:
        return {"test_exact_match": d["exact_match"]["int8"],
                "test_exact_match_per_format": {f: v["int8"] for f, v in d["exact_match_per_format"].items()},
                "test_examples": d["outputs_changed"]["of"]}

    def speed_feeds(self, name, batch):
        """Encoder: a batch of test sources. Step: the feeds of the 6th greedy step (a cache of 5 positions)."""
        from core.tokenizer import pad_batch

        m = self.fp32_model
        ids = (self.ids["test"] * (1 + batch // len(self.ids["test"])))[:batch]
        src = pad_batch(ids, m.vocab.pad_id)
        if name == self.enc:
            return {"src": src}
        enc = m.run_encoder({"src": src})
        token = np.full((batch,), m.vocab.bos_id, dtype=np.int64)
        mask = src != m.vocab.pad_id
        if m.kind == "transformer":
            L, H, d_k = m.cache_shape
            feeds = {"token": token, "memory": enc["memory"], "src_mask": mask,
                     "cache": np.zeros((L, 2, batch, H, 0, d_k), np.float32)}
        else:
            feeds = {"token": token, "state": enc["state"], "enc_states": enc["enc_states"],
                     "enc_keys": enc["enc_keys"], "src_mask": mask}
        for _ in range(5):
            out = m.run_step(feeds)
            feeds["token"] = out["logits"].argmax(-1).astype(np.int64)
            if m.kind == "transformer":
                feeds["cache"] = out["new_cache"]
            else:
                feeds["state"] = out["new_state"]
        return feeds

    def decode_speed(self, int8, runs: int = 5) -> dict:
        """End to end (encoder + greedy steps) per batch of 1 and 256 test sources."""
        from core.runtime.decode import _greedy_batch

        m8 = self.int8_model(int8)
        out = {}
        for b in SPEED_BATCHES:
            ids = self.ids["test"][:b]
            f, i = compare_speed(lambda: _greedy_batch(self.fp32_model, ids), lambda: _greedy_batch(m8, ids),
                                 runs=max(5, runs * (20 if b == 1 else 1)))
            out[f"batch_{b}"] = {"fp32_ms": round(f, 4), "int8_ms": round(i, 4), "speedup": round(f / i, 3)}
        return out


FAMILIES = {"classifier": Classifier, "autoencoder": Autoencoder, "autoencoder_2d": Autoencoder,
            "conv_autoencoder": Autoencoder, "seq2seq_attention": DateModel, "transformer": DateModel}


# ---------------------------------------------------------------------------------------------- the choice

SELECTION_RULE = ("drift from fp32 on the validation split; conv weights stored in int8 if any such candidate is "
                  "within budget (it is what makes those files small), else fp32; then the lowest drift among the "
                  "candidates within budget with that storage (none within budget: the lowest drift of all)")


def choose(rows: list[dict], family) -> int:
    """Index of the chosen candidate in ``rows`` ({'settings', 'drift'} each) under SELECTION_RULE."""
    ok = [i for i, r in enumerate(rows) if family.within_budget(r["drift"])]
    if not ok:
        return min(range(len(rows)), key=lambda i: family.score(rows[i]["drift"]))
    int8_storage = [i for i in ok if rows[i]["settings"].conv_weights == "int8"]
    pool = int8_storage or ok
    return min(pool, key=lambda i: family.score(rows[i]["drift"]))


# --------------------------------------------------------------------------------------------- the command

def _round(obj, digits: int = 6):
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}")
    if isinstance(obj, dict):
        return {k: _round(v, digits) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_round(v, digits) for v in obj]
    return obj


def int8_card(fp32_card: dict, fp32_file: str, fp32_bytes: bytes, int8_bytes_len: int, settings: QuantSettings,
              info: dict, selection: dict, drift: dict, metrics: dict, speed: dict, data: str) -> dict:
    """The fp32 card with its fp32-only figures replaced: metrics measured on the int8 graph, and an ``int8``
    section (source, quantiser, selection, size, speed, drift)."""
    import onnxruntime

    card = {k: v for k, v in fp32_card.items() if k not in ("metrics", "onnx_max_abs_diff", "parity")}
    card.update({
        "variant": "int8",
        "summary": f"{fp32_card.get('summary', fp32_card.get('name', ''))} (dynamic int8 of {fp32_file})",
        "exported": date.today().isoformat(),
        "metrics": _round(metrics),
        "rebuild_command": f"python -m core.quantize {fp32_file.split('.')[0]}",
        "int8": {
            "source": {"file": fp32_file, "sha256": sha256_bytes(fp32_bytes), "bytes": len(fp32_bytes)},
            "quantizer": {
                "tool": "onnxruntime.quantization.quantize_dynamic", "onnxruntime": onnxruntime.__version__,
                "onnx": onnx.__version__, "op_types_to_quantize": list(OP_TYPES), "MatMulConstBOnly": True,
                **asdict(settings),
                "activations": "QUInt8, one scale per tensor, computed at run time (DynamicQuantizeLinear)",
                "kept_fp32": "Conv/ConvTranspose compute, GRU, attention score and value MatMuls, LayerNorm, "
                             "softmax, embeddings",
                **info,
            },
            "selection": selection,
            "size": {"bytes": int8_bytes_len, "fp32_bytes": len(fp32_bytes),
                     "ratio": round(int8_bytes_len / len(fp32_bytes), 4)},
            "speed": speed,
            "drift": {"data": data, **_round(drift)},
        },
    })
    return card


def set_card(model: onnx.ModelProto, card: dict) -> None:
    """The same metadata layout as core.export.set_metadata (which imports torch; this side must not)."""
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = "model_card", json.dumps(card, ensure_ascii=False)
    model.producer_name = "big-model-lab"
    model.doc_string = f"{card.get('name', '')}: {card.get('summary', '')}"


def _log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, flush=True)


def quantize(name: str, exported_dir: str | os.PathLike = EXPORTED, data_dir=None, quiet: bool = False,
             mnist: MnistFamily | None = None, only: list[QuantSettings] | None = None) -> dict:
    """Build, measure and write the int8 twins of model ``name``; returns {int8 file: card}.

    ``only`` restricts the candidates (tests use one, to stay fast; ``--conv-weights`` half the grid); the card
    then records that. Candidates with int8 conv weights are dropped for graphs without convolutions.
    """
    from core.atomic import atomic_write_bytes
    from core.manifest import ArtifactError, check_artifact, read_manifest
    from core.transaction import export_transaction

    if name not in TARGETS:
        raise QuantizeError(f"unknown model {name!r}; choose one of {', '.join(TARGETS)} or all")
    out_dir = Path(exported_dir)
    files = TARGETS[name]
    manifest = read_manifest(out_dir)
    raw, fp32_models, fp32 = {}, {}, {}
    for f in files:
        try:
            path = check_artifact(f, out_dir, manifest)
        except ArtifactError as exc:
            raise QuantizeError(f"cannot quantise {name}: {exc}") from exc
        raw[f] = path.read_bytes()
        fp32_models[f] = onnx.load_from_string(raw[f])
        fp32[f] = _open(path)
    t0 = time.perf_counter()
    family_cls = FAMILIES[name]
    if family_cls is DateModel:
        family = DateModel(files, fp32)
        data_names = family.data_names
    else:
        mnist = mnist or MnistFamily(data_dir)
        family = family_cls(files, fp32, mnist)
        data_names = mnist.data
    conv = any(has_conv(m) for m in fp32_models.values())
    grid = [c for c in only if conv or c.conv_weights == "fp32"] if only else candidates(conv)
    grid = grid or candidates(conv)  # only int8 conv storage asked for, and this model has no convolutions
    rows, built = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k, s in enumerate(grid):
            models, infos, sessions = {}, {}, {}
            for f in files:
                models[f], infos[f] = quantize_model(fp32_models[f], s)
                p = Path(tmp) / f"{k}_{f}"
                p.write_bytes(models[f].SerializeToString())
                sessions[f] = _open(p)
            drift = family.measure(sessions, "val")
            size = sum(len(models[f].SerializeToString()) for f in files)
            rows.append({"settings": s, "bytes": size, "drift": drift})
            built.append((models, infos, sessions))
            _log(f"  {name} [{k + 1}/{len(grid)}] {s.label()}: {size:,} B, "
                 f"within budget {family.within_budget(drift)}, score {_round(list(family.score(drift)), 4)}",
                 quiet)
        best = choose(rows, family)
        chosen, (models, infos, sessions) = rows[best]["settings"], built[best]
        _log(f"  {name}: chose {chosen.label()}; measuring on the test data", quiet)
        drift = family.measure(sessions, "test")
        metrics = family.metrics(drift)
        speeds = {}
        for f in files:
            sp = {"provider": "CPUExecutionProvider", "threads": 1, "statistic": "median ms per run after "
                  "warm-up, fp32 and int8 timed in alternating rounds", **machine()}
            for b in SPEED_BATCHES:
                feeds = family.speed_feeds(f, b)
                runs = 200 if b == 1 else 30
                a, c = fp32[f].session, sessions[f].session
                f_ms, i_ms = compare_speed(lambda: a.run(None, feeds), lambda: c.run(None, feeds), runs)
                sp[f"batch_{b}"] = {"fp32_ms": round(f_ms, 4), "int8_ms": round(i_ms, 4),
                                    "speedup": round(f_ms / i_ms, 3)}
            speeds[f] = sp
        if isinstance(family, DateModel):
            dec = family.decode_speed(sessions)
            for f in files:
                speeds[f]["greedy_decode"] = {"what": "encoder + greedy steps, test sources", **dec}
    selection = {
        "rule": SELECTION_RULE, "budget": family.budget, "data": data_names["val"],
        "score": family.score_names,
        "columns": [*asdict(chosen), "bytes", "within_budget", "score"],
        "candidates": [[*asdict(r["settings"]).values(), r["bytes"], family.within_budget(r["drift"]),
                        _round(list(family.score(r["drift"])), 4)] for r in rows],
        "chosen": best, "grid": "full" if grid == candidates(conv) else f"restricted ({len(grid)} candidates)",
    }
    blobs, cards = {}, {}
    for f in files:
        model = models[f]
        size = len(model.SerializeToString())
        if size >= len(raw[f]):
            raise QuantizeError(f"{f}: the int8 graph ({size:,} B) is not smaller than fp32 ({len(raw[f]):,} B)")
        card = None
        for _ in range(3):  # the card's own length changes the size it reports: settle it
            card = int8_card(fp32[f].card, f, raw[f], size, chosen, infos[f], selection, drift, metrics,
                             speeds[f], data_names["test"])
            set_card(model, card)
            new = len(model.SerializeToString())
            if new == size:
                break
            size = new
        blobs[out_dir / q8.int8_name(f)] = model.SerializeToString()
        cards[q8.int8_name(f)] = card
    with export_transaction(out_dir) as stage:  # all or nothing, manifest included (core/transaction.py)
        for path, data in blobs.items():
            atomic_write_bytes(stage / path.relative_to(out_dir), data)
    _log(f"  {name}: wrote {', '.join(cards)} in {time.perf_counter() - t0:.0f} s", quiet)
    return cards


def stale(exported_dir: str | os.PathLike = EXPORTED) -> dict[str, str]:
    """{int8 file: why it no longer matches its fp32 source} for every listed int8 file (empty when all match)."""
    from core.manifest import read_manifest
    from core.runtime.session import ModelError, load_model

    files = read_manifest(exported_dir).get("files", {})
    out = {}
    for f in sorted(files):
        if not q8.is_int8(f):
            continue
        try:
            card = load_model(f, "cpu", exported_dir, threads=1).card
        except ModelError as exc:
            out[f] = str(exc)
            continue
        why = q8.stale_reason(card, files.get(q8.fp32_name(f), {}).get("sha256"))
        if why:
            out[f] = why
    return out
