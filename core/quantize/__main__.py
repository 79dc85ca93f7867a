"""python -m core.quantize [NAME ...|all] [--exported DIR] [--data-dir DIR] [--conv-weights auto|fp32|int8]
    [--check] [--quiet]"""

from __future__ import annotations

import argparse
import sys

from core import EXPORTED
from core.errors import UserError
from core.quantize import TARGETS, candidates, quantize, stale


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.quantize",
                                description="Build the int8 twins (NAME.int8.onnx) of the exported fp32 graphs, "
                                            "measure their drift, size and speed, and write their cards.")
    p.add_argument("models", nargs="*", metavar="NAME",
                   help=f"one or more of {', '.join(TARGETS)}, or all (the default)")
    p.add_argument("--exported", default=str(EXPORTED), help="the exported/ folder (default: the repository's)")
    p.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_DIR, then the cache)")
    p.add_argument("--conv-weights", choices=("auto", "fp32", "int8"), default="auto",
                   help="how convolution weights are stored (they always compute in fp32); auto: the selection rule")
    p.add_argument("--check", action="store_true",
                   help="build nothing: list int8 files whose fp32 source changed (exit 1 if any)")
    p.add_argument("--quiet", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    unknown = [m for m in args.models if m not in (*TARGETS, "all")]
    if unknown:
        parser.error(f"unknown model {unknown[0]!r}; choose from {', '.join(TARGETS)}, all")
    try:
        if args.check:
            bad = stale(args.exported)
            for f, why in bad.items():
                print(f"stale: {f}: {why}")
            if not bad:
                print("every int8 file matches its fp32 source")
            return 1 if bad else 0
        names = list(TARGETS) if not args.models or "all" in args.models else list(dict.fromkeys(args.models))
        mnist = None
        for name in names:
            if name in ("classifier", "autoencoder", "autoencoder_2d", "conv_autoencoder") and mnist is None:
                from core.quantize import MnistFamily

                mnist = MnistFamily(args.data_dir)
            only = None
            if args.conv_weights != "auto":
                only = [c for c in candidates(True) if c.conv_weights == args.conv_weights]
            quantize(name, args.exported, args.data_dir, quiet=args.quiet, mnist=mnist, only=only)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
