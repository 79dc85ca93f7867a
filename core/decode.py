"""python -m core.decode --model {transformer,seq2seq_attention} ["Nov 28 2026"]: dates to ISO 8601 through ONNX.

With no text argument, reads one input per line from standard input and prints one output per line, in order;
a line the model cannot read prints `error: ...` in its place and the rest go on. `--attention` also prints
each input's alignment as a text table. A missing or corrupt model file prints one line and exits with 1.
Runs on onnxruntime alone (no torch is imported).
"""

from __future__ import annotations

import argparse
import sys

from core.errors import UserError
from core.runtime.decode import KINDS, alignment_table, greedy_decode, load_seq_model
from core.runtime.session import PROVIDER_CHOICES
from core.tokenizer import TokenizeError, encode_source


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.decode", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=KINDS, default="transformer")
    p.add_argument("--provider", choices=PROVIDER_CHOICES, default="auto")
    p.add_argument("--attention", action="store_true", help="also print the alignment as a text table")
    p.add_argument("text", nargs="*", help="dates to normalise (default: one per line from stdin)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        model = load_seq_model(args.model, args.provider)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if model.note:
        print(f"note: {model.note}", file=sys.stderr)
    lines = [" ".join(args.text)] if args.text else [line.rstrip("\n") for line in sys.stdin]
    # tokenise each line alone, so one unreadable line gives its own error and the rest are decoded together
    readable: dict[int, str] = {}
    errors: dict[int, str] = {}
    for i, line in enumerate(lines):
        try:
            encode_source(line, model.max_src_len, model.vocab)
            readable[i] = line
        except TokenizeError as exc:
            errors[i] = str(exc)
    try:
        decoded = dict(zip(readable, greedy_decode(model, list(readable.values()))))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for i in range(len(lines)):
        if i in errors:
            print(f"error: {errors[i]}", flush=True)
            continue
        print(decoded[i].output, flush=True)
        if args.attention:
            print(alignment_table(decoded[i]) + "\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
