"""python -m core.train MODEL: train, evaluate on held-out data, export to ONNX and validate against PyTorch.

MODEL is one of the MNIST models (autoencoder, autoencoder_2d, conv_autoencoder, gan, classifier, fid_features,
dcgan), one of the sequence models (seq2seq_attention, transformer), or `all` (the classifier before the GANs,
which it judges, and fid_features before the DCGAN, which it measures).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from core import EXPORTED, RUNS

# model -> module whose TRAINERS dict holds its train function
REGISTRY = {
    "classifier": "core.training.mnist",
    "autoencoder": "core.training.mnist",
    "autoencoder_2d": "core.training.mnist",
    "conv_autoencoder": "core.training.mnist",
    "gan": "core.training.mnist",
    "fid_features": "core.training.dcgan",  # the GANs' FID/KID/precision-recall features: before the DCGAN
    "dcgan": "core.training.dcgan",
    "seq2seq_attention": "core.training.sequence",
    "transformer": "core.training.sequence",
}
ORDER = list(REGISTRY)  # classifier first: the GANs' metrics need it; fid_features before dcgan


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", choices=[*ORDER, "all"])
    p.add_argument("--epochs", type=int, default=None, help="default: the model's own")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--data-dir", type=Path, default=None, help="folder with the four MNIST IDX files (else $MNIST_DIR, else download)")
    p.add_argument("--out", type=Path, default=EXPORTED, help="where ONNX files, model cards and histories go")
    p.add_argument("--runs", type=Path, default=RUNS, help="where checkpoints go (not committed)")
    p.add_argument("--export-only", action="store_true", help="re-export from the last checkpoint, no training")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from core.errors import UserError
    from core.training.common import TrainOptions, resolve_device

    names = ORDER if args.model == "all" else [args.model]
    try:
        resolve_device(args.device)  # fail before any work when CUDA is asked for and absent
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.epochs is not None and args.epochs < 1:
        print("error: --epochs must be at least 1", file=sys.stderr)
        return 2
    for name in names:
        opts = TrainOptions(model=name, epochs=args.epochs, seed=args.seed, device=args.device,
                            data_dir=args.data_dir, out=args.out, runs=args.runs,
                            export_only=args.export_only, quiet=args.quiet)
        t0 = time.time()
        try:
            trainer = importlib.import_module(REGISTRY[name]).TRAINERS[name]
            metrics = trainer(opts)
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\ninterrupted; checkpoints and history written so far are kept", file=sys.stderr)
            return 130
        print(f"{name}: done in {time.time() - t0:.0f}s  " + "  ".join(f"{k}={v}" for k, v in (metrics or {}).items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
