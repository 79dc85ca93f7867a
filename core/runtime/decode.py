"""Greedy decoding of the date models over their two ONNX graphs (encoder, decoder step): numpy + onnxruntime only.

The one greedy loop shared by the tests, ``python -m core.decode``, the dashboard and (through a PyTorch runner
with the same feeds and outputs) the training code's parity check. It returns the generated characters and every
attention map, with padding positions removed.

Graph contract (see core/models/*.py):
- transformer: encoder ``src`` -> ``memory``, ``enc_self_attn`` [L,B,H,S,S]; step (``token``, ``memory``,
  ``src_mask``, ``cache`` [L,2,B,H,T,d_k]) -> ``logits``, ``new_cache`` [L,2,B,H,T+1,d_k], ``dec_self_attn``
  [L,B,H,T+1], ``cross_attn`` [L,B,H,S].
- seq2seq_attention: encoder ``src`` -> ``enc_states``, ``enc_keys``, ``state``; step (``token``, ``state``,
  ``enc_states``, ``enc_keys``, ``src_mask``) -> ``logits``, ``new_state``, ``attn`` [B,S].
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from core import EXPORTED
from core.errors import UserError
from core.runtime.dates_check import DEFAULT_THRESHOLD, Verdict, fmt_p, judge, softmax_chosen
from core.runtime.session import LoadedModel, ModelError, load_model
from core.tokenizer import Vocab, decode_target, encode_source, pad_batch, token_strings

KINDS = ("transformer", "seq2seq_attention")
BATCH = 256

Runner = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


@dataclass
class Decoded:
    input: str  # the trimmed input
    output: str  # the generated text without eos
    src_tokens: list[str]  # one per source position (the input's characters)
    out_tokens: list[str]  # generated tokens, including the final <eos> when one was produced
    cross: np.ndarray  # additive: [T, S]; transformer: [L, H, T, S]
    enc_self: np.ndarray | None = None  # transformer: [L, H, S, S]
    dec_self: np.ndarray | None = None  # transformer: [L, H, T, T], row t over positions <= t, zeros after
    seconds: float = 0.0  # wall time of this input's share of its batch
    out_ids: list[int] = field(default_factory=list)
    probs: list[float] = field(default_factory=list)  # p(chosen token) at each step, one per out_tokens entry
    verdict: Verdict | None = None  # whether ``output`` may be shown as an answer (core.runtime.dates_check)

    @property
    def ok(self) -> bool:
        """True only for a real calendar date in the trained years that the model is sure of."""
        return self.verdict is not None and self.verdict.ok

    @property
    def min_prob(self) -> float:
        return min(self.probs) if self.probs else float("nan")


@dataclass
class SeqModel:
    kind: str
    vocab: Vocab
    max_src_len: int
    max_tgt_len: int
    card: dict
    run_encoder: Runner
    run_step: Runner
    cache_shape: tuple[int, int, int, int] | None = None  # transformer: (L, H, d_k, 2)
    encoder: LoadedModel | None = None
    step: LoadedModel | None = None

    @property
    def threshold(self) -> float:
        """The low-confidence threshold measured on the validation split at export (the card's
        ``metrics.confidence.threshold``); DEFAULT_THRESHOLD for a card from before it was measured."""
        conf = (self.card.get("metrics") or {}).get("confidence") or {}
        t = conf.get("threshold") if isinstance(conf, dict) else None
        return float(t) if isinstance(t, (int, float)) and 0.0 <= t <= 1.0 else DEFAULT_THRESHOLD

    @property
    def providers(self) -> list[str]:
        return self.encoder.providers if self.encoder else []

    @property
    def note(self) -> str | None:
        return self.encoder.note if self.encoder else None


def spec_from_card(card: dict, name: str) -> dict:
    """The decoding section of a model card, or a ModelError naming the rebuild command."""
    dec = card.get("decoding")
    if not isinstance(dec, dict) or not {"vocab", "max_src_len", "max_tgt_len"} <= set(dec):
        cmd = f"python -m core.train {card.get('name', name.split('.')[0])}"
        raise ModelError(f"{name} has no decoding section in its model card; rebuild it with: {cmd}",
                         key="errors.model.no_decoding", name=name, cmd=cmd)
    return dec


def make_seq_model(kind: str, card: dict, run_encoder: Runner, run_step: Runner,
                   encoder: LoadedModel | None = None, step: LoadedModel | None = None) -> SeqModel:
    if kind not in KINDS:
        raise UserError(f"unknown model {kind!r}; choose one of {', '.join(KINDS)}")
    dec = spec_from_card(card, f"{kind}.encoder.onnx")
    cache = None
    if kind == "transformer":
        c = card["config"]
        cache = (c["n_dec_layer"], c["n_head"], c["d_model"] // c["n_head"])
    return SeqModel(kind=kind, vocab=Vocab(tuple(dec["vocab"])), max_src_len=int(dec["max_src_len"]),
                    max_tgt_len=int(dec["max_tgt_len"]), card=card, run_encoder=run_encoder, run_step=run_step,
                    cache_shape=cache, encoder=encoder, step=step)


def load_seq_model(kind: str, provider: str = "auto", exported_dir: str | os.PathLike = EXPORTED,
                   verify: bool = True, threads: int | None = None) -> SeqModel:
    """The two ONNX graphs of ``kind`` checked against the manifest, vocabulary and limits from the card.
    ``threads``: ORT intra-op threads (None: ORT's default, one per core)."""
    if kind not in KINDS:
        raise UserError(f"unknown model {kind!r}; choose one of {', '.join(KINDS)}")
    enc = load_model(f"{kind}.encoder.onnx", provider, exported_dir, verify=verify, threads=threads)
    step = load_model(f"{kind}.decoder_step.onnx", provider, exported_dir, verify=verify, threads=threads)
    return make_seq_model(kind, enc.card, enc.run, step.run, enc, step)


def encode_texts(model: SeqModel, texts: list[str]) -> list[list[int]]:
    return [encode_source(t, model.max_src_len, model.vocab) for t in texts]


def _greedy_batch(model: SeqModel, ids: list[list[int]], force: list[list[int]] | None = None,
                  maps: bool = True) -> list[dict]:
    """Greedy decoding of one batch of encoded inputs; per input: ids, logits, the chosen tokens' probabilities
    and (unless ``maps`` is False) the attention maps, padding removed.

    ``force`` (parity checks only): feed these output ids instead of the argmax, so two backends can be compared
    step by step on the same prefix even where an untrained model's top two logits tie.
    """
    v = model.vocab
    src = pad_batch(ids, v.pad_id)  # (B, S)
    B = src.shape[0]
    lengths = [len(s) for s in ids]
    src_mask = src != v.pad_id  # (B, S)
    token = np.full((B,), v.bos_id, dtype=np.int64)
    done = np.zeros(B, dtype=bool)
    out_ids, crosses, selfs, logits = [], [], [], []
    enc = model.run_encoder({"src": src})
    if model.kind == "transformer":
        L, H, d_k = model.cache_shape
        cache = np.zeros((L, 2, B, H, 0, d_k), dtype=np.float32)
        feeds = {"memory": enc["memory"], "src_mask": src_mask}
    else:
        state = enc["state"]
        feeds = {"enc_states": enc["enc_states"], "enc_keys": enc["enc_keys"], "src_mask": src_mask}
    for _ in range(model.max_tgt_len):
        if model.kind == "transformer":
            out = model.run_step({"token": token, **feeds, "cache": cache})
            cache = out["new_cache"]
            selfs.append(out["dec_self_attn"])  # (L, B, H, t+1)
            crosses.append(out["cross_attn"])  # (L, B, H, S)
        else:
            out = model.run_step({"token": token, "state": state, **feeds})
            state = out["new_state"]
            crosses.append(out["attn"])  # (B, S)
        logits.append(out["logits"])  # (B, V)
        token = out["logits"].argmax(axis=-1).astype(np.int64)  # (B,)
        if force is not None:
            t = len(out_ids)
            token = np.array([f[t] if t < len(f) else v.eos_id for f in force], dtype=np.int64)
        out_ids.append(token)
        done |= token == v.eos_id
        if done.all():
            break
    out_ids = np.stack(out_ids, axis=1)  # (B, T)
    results = []
    for b in range(B):
        row = out_ids[b].tolist()
        T = row.index(v.eos_id) + 1 if v.eos_id in row else len(row)
        n = lengths[b]
        r = {"ids": row[:T], "logits": np.stack([lg[b] for lg in logits[:T]])}  # logits (T, V)
        r["probs"] = softmax_chosen(r["logits"], r["ids"]).tolist()  # (T,)
        if not maps:
            pass
        elif model.kind == "transformer":
            r["cross"] = np.stack([c[:, b, :, :n] for c in crosses[:T]], axis=2)  # (L, H, T, S)
            dec = np.zeros((*selfs[0].shape[:1], selfs[0].shape[2], T, T), dtype=np.float32)  # (L, H, T, T)
            for t in range(T):
                dec[:, :, t, :t + 1] = selfs[t][:, b]
            r["dec_self"] = dec
            r["enc_self"] = enc["enc_self_attn"][:, b, :, :n, :n]  # (L, H, S, S)
        else:
            r["cross"] = np.stack([c[b, :n] for c in crosses[:T]], axis=0)  # (T, S)
        results.append(r)
    return results


def decode_ids(model: SeqModel, ids: list[list[int]], batch: int = BATCH,
               force: list[list[int]] | None = None, maps: bool = True) -> list[dict]:
    """Greedy decoding of encoded inputs in batches of similar length (order kept); adds per-input seconds."""
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out: list[dict | None] = [None] * len(ids)
    for start in range(0, len(order), batch):
        chunk = order[start:start + batch]
        t0 = time.perf_counter()
        res = _greedy_batch(model, [ids[i] for i in chunk], None if force is None else [force[i] for i in chunk],
                            maps=maps)
        share = (time.perf_counter() - t0) / len(chunk)
        for i, r in zip(chunk, res):
            r["seconds"] = share
            out[i] = r
    return out


def greedy_decode(model: SeqModel, texts: list[str], batch: int = BATCH, maps: bool = True,
                  threshold: float | None = None) -> list[Decoded]:
    """Decode a list of inputs (batched), each with its verdict; TokenizeError (a UserError) if any input is
    unreadable. ``maps=False`` skips collecting attention maps (``cross`` is then empty); ``threshold`` overrides
    the model's low-confidence threshold."""
    ids = encode_texts(model, texts)
    results = decode_ids(model, ids, batch, maps=maps)
    v = model.vocab
    limit = model.threshold if threshold is None else float(threshold)
    decoded = []
    for text, src, r in zip(texts, ids, results):
        out_tokens = token_strings(r["ids"], v)
        output = decode_target(r["ids"], v)
        decoded.append(Decoded(
            input=text.strip(), output=output,
            src_tokens=token_strings(src, v), out_tokens=out_tokens, cross=r.get("cross", np.zeros((0, 0), np.float32)),
            enc_self=r.get("enc_self"), dec_self=r.get("dec_self"), seconds=r["seconds"], out_ids=r["ids"],
            probs=r["probs"], verdict=judge(output, r["probs"], limit, ended=r["ids"][-1:] == [v.eos_id]),
        ))
    return decoded


def decode(model: SeqModel, text: str) -> Decoded:
    return greedy_decode(model, [text])[0]


def char_confidence(decoded: Decoded) -> list[tuple[str, float]]:
    """(token, probability the model gave it) per output step, the final <eos> included: what the UI colours."""
    return list(zip(decoded.out_tokens, decoded.probs))


def confidence_line(decoded: Decoded) -> str:
    """``min p 0.998  per char 2 1 0 0.999993 ... <eos> 1``: the CLI's --confidence text (core.runtime.dates_check.fmt_p)."""
    cells = " ".join(f"{tok} {fmt_p(p)}" for tok, p in char_confidence(decoded))
    return f"min p {fmt_p(decoded.min_prob)}  per char {cells}"


def mean_cross(decoded: Decoded) -> np.ndarray:
    """[T, S] alignment: the additive map, or the Transformer's last-layer cross-attention averaged over heads."""
    c = decoded.cross
    return c if c.ndim == 2 else c[-1].mean(axis=0)


def alignment_table(decoded: Decoded) -> str:
    """The alignment as a text table: one row per output token, one column per source character, weights in %."""
    a = mean_cross(decoded)  # (T, S)
    cols = [repr(c)[1:-1] if c != " " else "␣" for c in decoded.src_tokens]
    width = max(3, *(len(c) for c in cols)) if cols else 3
    title = "cross-attention (%), last layer, mean over heads" if decoded.cross.ndim == 4 else "additive attention (%)"
    lines = [title, "out\\in " + " ".join(c.rjust(width) for c in cols)]
    for t, tok in enumerate(decoded.out_tokens):
        cells = " ".join(f"{round(100 * float(w)):>{width}d}" if w >= 0.005 else " " * (width - 1) + "." for w in a[t])
        lines.append(f"{tok:>6} " + cells)
    return "\n".join(lines)
