"""Train, export and check the date-normalisation models (seq2seq_attention, transformer).

Per model: fresh seeded training examples each epoch (train dates only), cross-entropy with teacher forcing,
AdamW with warm-up and cosine decay; after each epoch greedy exact match on the validation split, and the best
epoch's weights kept in runs/<model>/best.pt. Then both graphs are exported (encoder, decoder step), each checked
against PyTorch at two lengths and two batch sizes other than the export example, and the whole test split is
decoded greedily through ONNX Runtime and through PyTorch by the same loop (core.runtime.decode): the tokens must
match and the attention maps agree within 1e-4. Exact-match accuracy (overall and per format) goes into both cards.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch.export import Dim

from core.atomic import atomic_write_bytes, atomic_write_json, sha256_bytes
from core.data import dates
from core.export import (
    ExportError,
    base_card,
    export_onnx,
    finish,
    save_reference,
    stamp_card,
    validate_onnx,
)
from core.models import seq2seq_attention as s2s
from core.models import transformer as tfm
from core.runtime import confidence
from core.runtime.decode import decode_ids, make_seq_model
from core.runtime.session import open_session
from core.tokenizer import (
    MAX_SRC_LEN,
    MAX_TGT_LEN,
    VOCAB,
    decode_target,
    encode_source,
    encode_target,
    pad_batch,
)
from core.training.common import (
    History,
    TrainError,
    TrainOptions,
    cpu_threads,
    load_checkpoint,
    progress,
    resolve_device,
    save_checkpoint,
    set_seed,
    stage_run_files,
)
from core.transaction import export_transaction

PARITY_ATOL = 1e-4


@dataclass(frozen=True)
class SeqTrainConfig:
    epochs: int = 12
    examples_per_epoch: int = 40_000
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 300
    grad_clip: float = 1.0


# sized to finish in about 10 minutes each on one CPU core (measured: ~0.14 s and ~0.2 s per step)
TRAIN_CONFIGS = {
    "transformer": SeqTrainConfig(epochs=12, examples_per_epoch=40_000, batch_size=128, lr=1.5e-3),
    "seq2seq_attention": SeqTrainConfig(epochs=8, examples_per_epoch=60_000, batch_size=256, lr=3e-3),
}

SOURCE_NOTES = {
    "transformer": [
        "The source text describes the Transformer (self-attention, cross-attention, cross-entropy) but gives no "
        "code; this is an annotated-transformer-style pre-norm encoder-decoder with hand-written multi-head attention.",
        "Character-level date normalisation instead of translation; greedy decoding (no beam search).",
        "Decoder step graph with a key/value cache: a step projects one new position; the cross-attention "
        "keys/values are re-projected from `memory` at each step (cheap for sources of <= 32 characters).",
    ],
    "seq2seq_attention": [
        "The source text explains attention as an MLP that scores each input position but gives no code; this is "
        "Bahdanau-style additive attention, score(s, h) = v^T tanh(W_s s + W_h h), over a bidirectional GRU encoder.",
        "The backward GRU reads each sequence reversed within its own length, so padding never enters the encoder.",
        "W_h h is computed once by the encoder graph (`enc_keys`) rather than at every decoder step.",
    ],
}


EXPORT_NOTES = {
    "transformer": "torch.onnx.export(dynamo=True), hand-written attention (no nn.MultiheadAttention); batch, source "
                   "length and cache length are dynamic; the first step takes a cache of length 0.",
    "seq2seq_attention": "torch.onnx.export(dynamo=True); each nn.GRU becomes one ONNX GRU node, dynamic in the "
                         "sequence length, but the exporter annotated the encoder outputs with the example's length "
                         "(17), so those output dims are renamed to `src_len` and the intermediate shape hints "
                         "dropped after export; both graphs are checked at lengths 9 and 26.",
}


def build_model(kind: str, **overrides) -> tuple[torch.nn.Module, object]:
    base = dict(vocab_size=len(VOCAB), pad_id=VOCAB.pad_id)
    if kind == "transformer":
        cfg = tfm.TransformerConfig(**{**base, **overrides})
        return tfm.Transformer(cfg), cfg
    if kind == "seq2seq_attention":
        cfg = s2s.Seq2SeqConfig(**{**base, **overrides})
        return s2s.Seq2SeqAttention(cfg), cfg
    raise TrainError(f"unknown sequence model {kind!r}")


def make_batch(examples: list[dates.Example]):
    """src (B,S), tgt_in = bos + target (B,T), tgt_out = target + eos (B,T), as int64 tensors."""
    src = pad_batch([encode_source(e.source, MAX_SRC_LEN) for e in examples])
    out = [encode_target(e.target) for e in examples]
    tgt_out = pad_batch(out)
    tgt_in = pad_batch([[VOCAB.bos_id] + o[:-1] for o in out])
    return torch.from_numpy(src), torch.from_numpy(tgt_in), torch.from_numpy(tgt_out)


def length_buckets(examples: list, batch_size: int, gen: torch.Generator, pool: int = 50) -> list[list]:
    """Batches of similar source length (less padding, ~2x faster), in a seeded random order."""
    order = torch.randperm(len(examples), generator=gen).tolist()
    batches = []
    for start in range(0, len(order), batch_size * pool):
        group = sorted(order[start:start + batch_size * pool], key=lambda j: len(examples[j].source))
        batches += [[examples[j] for j in group[k:k + batch_size]] for k in range(0, len(group), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=gen).tolist()]


# ---------------------------------------------------------------------------------------------------------------
# The PyTorch runner: the same feeds/outputs as the ONNX graphs, so core.runtime.decode's loop drives both.


def torch_runners(kind: str, model: torch.nn.Module):
    model = model.eval()
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))
    n = lambda x: x.detach().cpu().numpy()

    if kind == "transformer":
        def enc(feeds):
            with torch.no_grad():
                memory, attn = model.encode(t(feeds["src"]))
            return {"memory": n(memory), "enc_self_attn": n(attn)}

        def step(feeds):
            with torch.no_grad():
                r = model.step(t(feeds["token"]), t(feeds["memory"]), t(feeds["src_mask"]), t(feeds["cache"]))
            return dict(zip(("logits", "new_cache", "dec_self_attn", "cross_attn"), map(n, r)))
    else:
        def enc(feeds):
            with torch.no_grad():
                r = model.encode(t(feeds["src"]))
            return dict(zip(("enc_states", "enc_keys", "state"), map(n, r)))

        def step(feeds):
            with torch.no_grad():
                r = model.step(t(feeds["token"]), t(feeds["state"]), t(feeds["enc_states"]), t(feeds["enc_keys"]),
                               t(feeds["src_mask"]))
            return dict(zip(("logits", "new_state", "attn"), map(n, r)))
    return enc, step


def decoding_section() -> dict:
    return {"vocab": list(VOCAB.tokens), "max_src_len": MAX_SRC_LEN, "max_tgt_len": MAX_TGT_LEN,
            "special_ids": VOCAB.special_ids(), "source_has_bos_eos": False,
            "target": "YYYY-MM-DD then <eos>; the decoder starts from <bos>"}


def torch_seq_model(kind: str, model: torch.nn.Module, config):
    enc, step = torch_runners(kind, model)
    return make_seq_model(kind, {"config": asdict(config), "decoding": decoding_section()}, enc, step)


def exact_match(seq_model, examples: list[dates.Example]) -> tuple[float, dict[str, float], list[dict]]:
    ids = [encode_source(e.source, MAX_SRC_LEN) for e in examples]
    res = decode_ids(seq_model, ids)
    v = seq_model.vocab
    hits, per = [], {}
    for e, r in zip(examples, res):
        out = decode_target(r["ids"], v)
        ok = out == e.target and r["ids"][-1:] == [v.eos_id]
        hits.append(ok)
        per.setdefault(e.fmt, []).append(ok)
    return float(np.mean(hits)), {k: float(np.mean(per[k])) for k in dates.FORMAT_NAMES if k in per}, res


# ---------------------------------------------------------------------------------------------------------------
# Training


def _threads() -> int:
    """OMP_NUM_THREADS when set (a shared machine: `OMP_NUM_THREADS=1`), else every core up to 8."""
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return cpu_threads()


def train(kind: str, opts: TrainOptions) -> dict:
    device = resolve_device(opts.device)
    tc = TRAIN_CONFIGS[kind]
    if opts.epochs is not None:
        tc = replace(tc, epochs=opts.epochs)
    torch.set_num_threads(_threads())
    set_seed(opts.seed)
    model, cfg = build_model(kind)
    model.to(device)
    run_dir = Path(opts.runs) / kind
    steps_per_epoch = math.ceil(tc.examples_per_epoch / tc.batch_size)
    total = tc.epochs * steps_per_epoch
    optim = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min(1.0, (s + 1) / tc.warmup_steps) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    # the per-epoch history lives beside the checkpoint while training; the export copies it into its folder, so
    # a training run never touches the exported set
    history = History(run_dir / "history.json", meta={
        "model": kind, "seed": opts.seed, "train_config": asdict(tc), "model_config": asdict(cfg),
        "device": str(device), "metric": "val exact match (greedy, PyTorch)",
        "data": {"val_examples": dates.N_VAL, "formats": dates.FORMAT_NAMES},
    })
    val = dates.val_split()
    val_batch = make_batch(val)
    best, best_loss = -1.0, math.inf
    for epoch in range(tc.epochs):
        model.train()
        examples = dates.train_examples(tc.examples_per_epoch, opts.seed, epoch)
        batches = length_buckets(examples, tc.batch_size, torch.Generator().manual_seed(opts.seed * 1000 + epoch))
        losses = []
        bar = progress(batches, desc=f"{kind} {epoch + 1}/{tc.epochs}", quiet=opts.quiet)
        for i, chunk in enumerate(bar):
            src, tgt_in, tgt_out = (x.to(device) for x in make_batch(chunk))
            logits = model(src, tgt_in)  # (B, T, V)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1), ignore_index=VOCAB.pad_id)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            optim.step()
            sched.step()
            losses.append(loss.item())
            if i % 20 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
        model.eval()
        with torch.no_grad():
            src, tgt_in, tgt_out = (x.to(device) for x in val_batch)
            logits = model(src, tgt_in)
            val_loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1),
                                       ignore_index=VOCAB.pad_id).item()
        model.cpu()
        val_acc, _, _ = exact_match(torch_seq_model(kind, model, cfg), val)
        model.to(device)
        row = history.log(train_loss=float(np.mean(losses)), val_loss=val_loss, val_exact_match=val_acc,
                          lr=sched.get_last_lr()[0])
        improved = val_acc > best or (val_acc == best and val_loss < best_loss)  # ties: the lower loss
        if improved:
            best, best_loss = val_acc, val_loss
            save_checkpoint(run_dir / "best.pt", model={k: v.cpu() for k, v in model.state_dict().items()},
                            config=asdict(cfg), epoch=epoch + 1, val_exact_match=val_acc, seed=opts.seed,
                            train_config=asdict(tc))
        if not opts.quiet:
            print(f"{kind} epoch {row['epoch']}: train_loss {row['train_loss']:.4f} val_loss {val_loss:.4f} "
                  f"val_exact {val_acc:.4f}{' (best)' if improved else ''} [{row['elapsed_s']:.0f}s]", flush=True)
    return {"best_val_exact_match": best}


# ---------------------------------------------------------------------------------------------------------------
# Export


def _free_axes(path: Path, outputs: dict[str, dict[int, str]]) -> None:
    """Name the dynamic axes of graph outputs whose exported shape froze them to the example size.

    The dynamo exporter's GRU lowering is dynamic in the sequence length (it is an ONNX GRU node), but it
    annotates the encoder outputs with the example's length; ORT then warns on every other length. The
    intermediate value_info shapes are hints only, so they are dropped.
    """
    model = onnx.load(str(path))
    for out in model.graph.output:
        for axis, name in outputs.get(out.name, {}).items():
            dim = out.type.tensor_type.shape.dim[axis]
            dim.ClearField("dim_value")
            dim.dim_param = name
    del model.graph.value_info[:]
    onnx.checker.check_model(model, full_check=True)
    atomic_write_bytes(path, model.SerializeToString())


def _src(batch: int, length: int, gen: torch.Generator) -> torch.Tensor:
    """Random source ids (no specials) with row 0 padded to about half the length: masks are exercised."""
    src = torch.randint(4, len(VOCAB), (batch, length), generator=gen)  # (B, S)
    if batch > 1 and length > 2:
        src[0, length // 2 + 1:] = VOCAB.pad_id
    return src


def export_graphs(kind: str, model: torch.nn.Module, cfg, out: Path, card: dict) -> dict:
    """Export encoder + decoder step of ``kind`` to ``out``; validate each at two batch sizes and lengths."""
    model = model.eval()
    gen = torch.Generator().manual_seed(1234)
    B, S = Dim("batch", min=1, max=4096), Dim("src_len", min=1, max=256)
    ex_b, ex_s = 4, 17  # the export example; validated at (3, 9) and (7, 26)
    sizes = {3: (3, 9), 7: (7, 26)}
    src = _src(ex_b, ex_s, gen)
    enc_path, step_path = out / f"{kind}.encoder.onnx", out / f"{kind}.decoder_step.onnx"
    checks = {}
    if kind == "transformer":
        enc_mod, step_mod = tfm.Encoder(model), tfm.DecoderStep(model)
        T = Dim("cache_len", min=0, max=255)
        L, H, d_k = cfg.n_dec_layer, cfg.n_head, cfg.d_model // cfg.n_head
        enc_in, enc_out = ["src"], ["memory", "enc_self_attn"]
        step_in = ["token", "memory", "src_mask", "cache"]
        step_out = ["logits", "new_cache", "dec_self_attn", "cross_attn"]

        def step_inputs(b, s, t_len):
            src = _src(b, s, gen)
            with torch.no_grad():
                memory, _ = model.encode(src)
            return (torch.randint(4, len(VOCAB), (b,), generator=gen), memory, src != VOCAB.pad_id,
                    torch.randn(L, 2, b, H, t_len, d_k, generator=gen))

        export_onnx(enc_mod, (src,), enc_path, enc_in, enc_out, {"src": {0: B, 1: S}},
                    {**card, "graph": "encoder"})
        export_onnx(step_mod, step_inputs(ex_b, ex_s, 5), step_path, step_in, step_out,
                    {"token": {0: B}, "memory": {0: B, 1: S}, "src_mask": {0: B, 1: S}, "cache": {2: B, 4: T}},
                    {**card, "graph": "decoder_step"})
        # a step at cache lengths 0 (the first step) and 3, other batch sizes and source lengths
        step_sizes = {3: (3, 9, 0), 7: (7, 26, 3)}
        step_make = lambda n: step_inputs(*step_sizes[n])
    else:
        enc_mod, step_mod = s2s.Encoder(model), s2s.DecoderStep(model)
        enc_in, enc_out = ["src"], ["enc_states", "enc_keys", "state"]
        step_in, step_out = ["token", "state", "enc_states", "enc_keys", "src_mask"], ["logits", "new_state", "attn"]

        def step_inputs(b, s):
            src = _src(b, s, gen)
            with torch.no_grad():
                h, keys, s0 = model.encode(src)
            return torch.randint(4, len(VOCAB), (b,), generator=gen), s0, h, keys, src != VOCAB.pad_id

        export_onnx(enc_mod, (src,), enc_path, enc_in, enc_out, {"src": {0: B, 1: S}},
                    {**card, "graph": "encoder"})
        _free_axes(enc_path, {"enc_states": {1: "src_len"}, "enc_keys": {1: "src_len"}})
        export_onnx(step_mod, step_inputs(ex_b, ex_s), step_path, step_in, step_out,
                    {"token": {0: B}, "state": {0: B}, "enc_states": {0: B, 1: S}, "enc_keys": {0: B, 1: S},
                     "src_mask": {0: B, 1: S}}, {**card, "graph": "decoder_step"})
        step_make = lambda n: step_inputs(*sizes[n])
    checks["encoder_max_abs_diff"] = validate_onnx(enc_path, enc_mod, lambda n: (_src(*sizes[n], gen),), enc_in)
    checks["decoder_step_max_abs_diff"] = validate_onnx(step_path, step_mod, step_make, step_in)
    checks["validated_sizes"] = "export example batch 4, source length 17; checked at (batch 3, length 9) and " \
                                "(batch 7, length 26)" + ("; cache lengths 0 and 3" if kind == "transformer" else "")
    return {"paths": (enc_path, step_path), "checks": checks, "modules": (enc_mod, step_mod),
            "io": ((enc_in, enc_out), (step_in, step_out)), "step_inputs": step_make}


def compare_decodes(a: list[dict], b: list[dict]) -> dict:
    """Token agreement and the largest attention difference between two decodes of the same inputs."""
    same = sum(x["ids"] == y["ids"] for x, y in zip(a, b))
    worst = 0.0
    for x, y in zip(a, b):
        if x["ids"] != y["ids"]:
            continue
        for key in ("cross", "enc_self", "dec_self"):
            if key in x:
                worst = max(worst, float(np.max(np.abs(x[key] - y[key]))) if x[key].size else 0.0)
    return {"examples": len(a), "same_tokens": same, "max_attention_abs_diff": worst}


def preset_examples(tests: list[dates.Example]) -> list[dates.Example]:
    """The first test example of each format (ISO 8601 first, written with its leading zeros, as ISO is)."""
    order = ["yyyy-mm-dd", *(f for f in dates.FORMAT_NAMES if f != "yyyy-mm-dd")]
    picks = []
    for fmt in order:
        pool = [e for e in tests if e.fmt == fmt and (e.padded or fmt != "yyyy-mm-dd")]
        if pool:
            picks.append(pool[0])
    return picks


def data_card() -> dict:
    split = dates.split_days()
    digest = sha256_bytes(repr({k: v for k, v in split.items()}).encode())
    return {
        "dataset": "synthetic dates (core.data.dates), generated from a seed",
        "formats": dates.FORMAT_NAMES, "cases": list(dates.CASES), "years": "1900-2099",
        "split": f"by date: {len(split['train'])} train / {len(split['val'])} val / {len(split['test'])} test days "
                 f"(seeded permutation, seed {dates.SPLIT_SEED}); a test date never appears in training",
        "split_sha256": digest, "val_examples": dates.N_VAL, "test_examples": dates.N_TEST,
    }


def export_and_check(kind: str, opts: TrainOptions, model: torch.nn.Module | None = None, cfg=None,
                     meta: dict | None = None, n_test: int = dates.N_TEST, do_finish: bool = True,
                     require_parity: bool = True) -> dict:
    """Export both graphs, decode the test split through ORT and PyTorch, measure confidence, write the cards,
    references, history copy and (transformer) the preset examples. Writes only under ``opts.out``, so an export
    transaction's staging folder can be passed as ``out`` (with ``do_finish=False``: the transaction writes the
    manifest)."""
    out = Path(opts.out)
    meta = meta or {}
    if model is None:
        ckpt = load_checkpoint(Path(opts.runs) / kind / "best.pt")
        model, cfg = build_model(kind, **{k: v for k, v in ckpt["config"].items()
                                          if k not in ("vocab_size", "pad_id")})
        model.load_state_dict(ckpt["model"])
        meta = {"epoch": ckpt.get("epoch"), "val_exact_match": ckpt.get("val_exact_match"),
                "seed": ckpt.get("seed", opts.seed), "train_config": ckpt.get("train_config")}
    model = model.cpu().eval()
    card = base_card(
        kind, model, cfg, summary="date normalisation to ISO 8601, character level",
        data=data_card(), seed=meta.get("seed", opts.seed), train_config=meta.get("train_config"),
        best_epoch=meta.get("epoch"), val_exact_match=meta.get("val_exact_match"),
        preprocessing="strip surrounding whitespace; one id per character (core.tokenizer.encode_source); "
                      "right-pad with <pad>; no <bos>/<eos> on the source",
        decoding=decoding_section(),
        differences_from_source=SOURCE_NOTES[kind],
        train_command=f"python -m core.train {kind} --seed {meta.get('seed', opts.seed)}",
        export_notes=EXPORT_NOTES[kind],
    )
    ex = export_graphs(kind, model, cfg, out, card)
    enc_path, step_path = ex["paths"]
    # the whole test split, greedy, by the same loop through ORT and through PyTorch
    tests = dates.test_split(n_test)
    enc_s, step_s = open_session(enc_path, "cpu"), open_session(step_path, "cpu")
    ort_model = make_seq_model(kind, enc_s.card, enc_s.run, step_s.run)
    t0 = time.perf_counter()
    acc, per_format, ort_res = exact_match(ort_model, tests)
    ort_seconds = time.perf_counter() - t0
    torch_acc, _, torch_res = exact_match(torch_seq_model(kind, model, cfg), tests)
    parity = compare_decodes(ort_res, torch_res)
    parity["passed"] = parity["same_tokens"] == parity["examples"] and parity["max_attention_abs_diff"] <= PARITY_ATOL
    parity["tolerance"] = PARITY_ATOL
    if require_parity and not parity["passed"]:
        raise ExportError(f"{kind}: ORT and PyTorch greedy decoding disagree on the test split: {parity}")
    metrics = {"test_exact_match": acc, "test_exact_match_per_format": per_format,
               "test_exact_match_pytorch": torch_acc, "test_examples": len(tests),
               "ort_decode_seconds_test_split": round(ort_seconds, 3),
               # the low-confidence threshold (validation split) and how well it flags wrong answers on inputs
               # never trained on, measured through ORT: what the CLI and the dashboard read
               "confidence": confidence.measure(ort_model)}
    updates = {"metrics": metrics, "parity": {**parity, **ex["checks"]}}
    for p in (enc_path, step_path):
        stamp_card(p, updates)
    # references for the dashboard's parity check: fixed inputs and PyTorch's outputs per graph
    (enc_in, enc_out), (step_in, step_out) = ex["io"]
    enc_mod, step_mod = ex["modules"]
    src = torch.from_numpy(pad_batch([encode_source(e.source) for e in tests[:6]]))
    step_inputs = ex["step_inputs"](3)
    for path, mod, ins, names, outs in ((enc_path, enc_mod, (src,), enc_in, enc_out),
                                        (step_path, step_mod, step_inputs, step_in, step_out)):
        with torch.no_grad():
            res = mod(*ins)
        save_reference(out / "reference" / f"{path.stem}.npz",
                       {n: t.numpy() for n, t in zip(names, ins)}, {n: t.numpy() for n, t in zip(outs, res)})
    history = Path(opts.runs) / kind / "history.json"
    if history.is_file():  # the training run's history, beside the checkpoint it describes
        atomic_write_bytes(out / "history" / f"{kind}.json", history.read_bytes())
    if kind == "transformer":
        atomic_write_json(out / "dates_examples.json", {
            "note": "test-split inputs (dates never seen in training), one per format; ISO 8601 first",
            "examples": [{"source": e.source, "target": e.target, "format": e.fmt, "case": e.case}
                         for e in preset_examples(tests)],
        })
    if do_finish:
        finish(out)
    return {"test_exact_match": round(acc, 5), "parity": parity["passed"], "parity_detail": parity,
            "worst_format": min(per_format.items(), key=lambda kv: kv[1])}


def _trainer(kind: str):
    def run(opts: TrainOptions) -> dict:
        out = {}
        if not opts.export_only:
            out.update(train(kind, opts))
        with export_transaction(opts.out) as stage:  # all or nothing: a killed run leaves opts.out as it was
            out.update(export_and_check(kind, replace(opts, out=stage), do_finish=False))
            stage_run_files(stage, opts, kind)
        return out

    run.__name__ = f"train_{kind}"
    return run


TRAINERS = {"seq2seq_attention": _trainer("seq2seq_attention"), "transformer": _trainer("transformer")}
