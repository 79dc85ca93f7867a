"""python -m core.decode --model {transformer,seq2seq_attention} ["Nov 28 2026"]: dates to ISO 8601 through ONNX.

With no text argument, reads one input per line from standard input and prints one output per line, in order,
as the lines arrive (it streams: memory stays the same however many lines come). A line is answered only with a
real calendar date in 1900-2099 that the model is sure of; otherwise its line is `error: ...` with the reason (and
what the model wrote, when it wrote something), and the rest go on:
  - input the model cannot read: empty, longer than the model reads, characters outside the vocabulary;
  - an output that is no date ("2023-02-31", "2026-13-01", "201-11-26") or outside 1900-2099;
  - an output whose least sure character is below the model's low-confidence threshold (measured on the
    validation split and stored in the model card; --min-confidence overrides it, 0 turns it off).
`--confidence` adds each output character's probability; `--attention` prints each alignment as a text table.

Exit status: 0 when every line was answered, 1 when any line was an `error: ...` (or a model file is missing or
corrupt: one line on stderr), 2 for a usage error. A closed pipe (`... | head -1`) ends it quietly.
Runs on onnxruntime alone (no torch is imported).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from core.errors import UserError
from core.runtime.dates_check import describe
from core.runtime.decode import KINDS, alignment_table, confidence_line, greedy_decode, load_seq_model
from core.runtime.session import PROVIDER_CHOICES
from core.tokenizer import TokenizeError, encode_source

MAX_LINE_BYTES = 1024  # longer lines are skipped in constant memory and answered `error: ...` (the model reads 32)
CHUNK = 1 << 16  # bytes per read: one read returns what the producer has written so far, up to this
BATCH = 256  # lines decoded together at most


@dataclass(frozen=True)
class TooLong:
    n_bytes: int  # how long the line was (counted while it was skipped)


def read_chunks(stream) -> Iterator[bytes]:
    """The bytes of ``stream`` as they arrive: each read returns what is there (a pipe's writer may be slow).

    Accepts a text stream with a ``buffer`` (sys.stdin), a binary stream, or a text stream (tests).
    """
    raw = getattr(stream, "buffer", stream)
    read = getattr(raw, "read1", None) or raw.read
    while True:
        data = read(CHUNK)
        if not data:
            return
        yield data.encode("utf-8") if isinstance(data, str) else data


def arrivals(chunks: Iterator[bytes], cap: int = MAX_LINE_BYTES) -> Iterator[list[str | TooLong]]:
    """The complete lines of each chunk as they arrive (a list per chunk, possibly empty), in order.

    A line over ``cap`` bytes is not kept: its bytes are counted and skipped until its newline, and it arrives as
    TooLong. So what is held is at most ``cap`` bytes of a partial line plus one chunk, whatever the input.
    """
    partial = b""
    skipping = 0  # > 0: inside an over-long line, this many bytes so far
    for data in chunks:
        lines: list[str | TooLong] = []
        start = 0
        while True:
            nl = data.find(b"\n", start)
            piece = data[start:] if nl < 0 else data[start:nl]
            if skipping:
                skipping += len(piece)
            elif len(partial) + len(piece) > cap:
                skipping, partial = len(partial) + len(piece), b""
            else:
                partial += piece
            if nl < 0:
                break
            if skipping:
                lines.append(TooLong(skipping))
            else:
                lines.append(partial.decode("utf-8", "replace"))
            partial, skipping, start = b"", 0, nl + 1
        yield lines
    if skipping:
        yield [TooLong(skipping)]
    elif partial:
        yield [partial.decode("utf-8", "replace")]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.decode", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=KINDS, default="transformer")
    p.add_argument("--provider", choices=PROVIDER_CHOICES, default="auto")
    p.add_argument("--attention", action="store_true", help="also print the alignment as a text table")
    p.add_argument("--confidence", action="store_true",
                   help="also print each output character's probability (the chosen token's softmax)")
    p.add_argument("--min-confidence", type=_probability, default=None, metavar="P",
                   help="flag outputs whose least sure character is below P (default: the model card's threshold, "
                        "measured on the validation split; 0 turns the flag off)")
    p.add_argument("--threads", type=_threads, default=1, metavar="N",
                   help="onnxruntime threads (default 1: these graphs are small, and on a busy machine one thread "
                        "was measured 2.7x faster than one per core; 0 = one per core)")
    p.add_argument("text", nargs="*", help="a date to normalise (default: one per line from stdin)")
    return p


def _threads(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= n <= 256:
        raise argparse.ArgumentTypeError(f"{text!r} threads: choose 0 (one per core) to 256")
    return n


def _probability(text: str) -> float:
    try:
        p = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= p <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a probability between 0 and 1")
    return p


class Printer:
    """Decodes lines a batch at a time and writes each batch's answers at once; keeps nothing afterwards."""

    def __init__(self, model, out, args):
        self.model, self.out, self.args = model, out, args
        self.failed = 0
        self.lines = 0

    def batch(self, lines: list[str | TooLong]) -> None:
        readable: dict[int, str] = {}
        errors: dict[int, str] = {}
        for i, line in enumerate(lines):
            if isinstance(line, TooLong):
                errors[i] = (f"the line is {line.n_bytes} bytes long; lines over {MAX_LINE_BYTES} bytes are "
                             f"skipped (the model reads at most {self.model.max_src_len} characters)")
                continue
            try:
                encode_source(line, self.model.max_src_len, self.model.vocab)
                readable[i] = line
            except TokenizeError as exc:
                errors[i] = str(exc)
        decoded = dict(zip(readable, greedy_decode(self.model, list(readable.values()), maps=self.args.attention,
                                                   threshold=self.args.min_confidence))) if readable else {}
        parts = []
        for i in range(len(lines)):
            if i in errors:
                parts.append(f"error: {errors[i]}\n")
                self.failed += 1
                continue
            d = decoded[i]
            text = d.output if d.ok else f"error: {describe(d.verdict, d.output)}"
            self.failed += not d.ok
            if self.args.confidence:
                text += "  " + confidence_line(d)
            parts.append(text + "\n")
            if self.args.attention:
                parts.append(alignment_table(d) + "\n\n")
        self.lines += len(lines)
        self.out.write("".join(parts))
        self.out.flush()


def run(args, stdin, stdout) -> int:
    try:
        model = load_seq_model(args.model, args.provider, threads=args.threads or None)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if model.note:
        print(f"note: {model.note}", file=sys.stderr)
    printer = Printer(model, stdout, args)
    try:
        if args.text:
            line = " ".join(args.text)
            printer.batch([TooLong(len(line.encode())) if len(line.encode()) > MAX_LINE_BYTES else line])
        else:
            for arrived in arrivals(read_chunks(stdin)):
                for start in range(0, len(arrived), BATCH):
                    printer.batch(arrived[start:start + BATCH])
    except UserError as exc:  # onnxruntime failed on a batch: say so once, after what was printed
        print(f"error: {exc} (after {printer.lines} lines)", file=sys.stderr)
        return 1
    return 1 if printer.failed else 0


def main(argv: list[str] | None = None, stdin=None, stdout=None) -> int:
    args = build_parser().parse_args(argv)
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    try:
        return run(args, stdin, stdout)
    except BrokenPipeError:
        # the reader went away (`| head -1`): Python's documented recipe for SIGPIPE, so that the interpreter's
        # final flush of stdout does not raise again
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stdout.fileno())
        except (OSError, AttributeError, ValueError):
            pass
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
