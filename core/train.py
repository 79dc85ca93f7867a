"""python -m core.train MODEL: train, evaluate on held-out data, export to ONNX and validate against PyTorch.

MODEL is one of the MNIST models (autoencoder, autoencoder_2d, conv_autoencoder, gan, classifier, fid_features,
dcgan), one of the sequence models (seq2seq_attention, transformer), or `all` (the classifier before the GANs,
which it judges, and fid_features before the DCGAN, which it measures).

Data-parallel over several processes (gloo on CPU, NCCL on CUDA), with PyTorch's launcher:
  torchrun --standalone --nproc-per-node 2 -m core.train MODEL ...
Rank 0 alone writes checkpoints, histories and the export; see docs/distributed-training.md for several machines.
"""

from __future__ import annotations

import argparse
import importlib
import os
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


class _Parser(argparse.ArgumentParser):
    quiet = False  # torchrun: only each machine's local rank 0 prints a usage error (every rank exits 2)

    def error(self, message):
        if self.quiet:
            self.exit(2)
        super().error(message)


def _env_int(name: str, default: int = 0) -> int:
    """torchrun's RANK / LOCAL_RANK (torch-free: the usage checks run before any heavy import)."""
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m core.train", description=__doc__,
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


MAX_SEED = 2**32 - 1  # numpy's seed range (torch takes more; the run must be reproducible by both)
MAX_EPOCHS = 100_000


def _can_write_in(folder: Path) -> str | None:
    """Make and remove a scratch folder in ``folder``: the one honest test (root, read-only mounts, /proc)."""
    import tempfile

    try:
        os.rmdir(tempfile.mkdtemp(prefix=".bml-check-", dir=folder))
    except OSError as exc:
        return exc.strerror or exc.__class__.__name__
    return None


def writable_folder(path: Path) -> str | None:
    """Why ``path`` cannot be (made into) a folder this process writes, or None. Its parent must be writable too:
    the export transaction stages the new set beside it."""
    path = Path(path).absolute()
    if path.exists() and not path.is_dir():
        return "is a file, not a folder"
    if path.is_dir():
        why = _can_write_in(path)
        if why:
            return f"is not writable ({why})"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"cannot be created: {parent} is a file"
    why = _can_write_in(parent)
    if why:
        return f"cannot be created or switched in {parent} ({why})"
    return None


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every usage error, before any heavy import or data: ``parser.error`` prints `error: ...` and exits 2."""
    if not 0 <= args.seed <= MAX_SEED:
        parser.error(f"--seed must be a whole number from 0 to {MAX_SEED} (2**32 - 1), not {args.seed}")
    if args.epochs is not None and not 1 <= args.epochs <= MAX_EPOCHS:
        parser.error(f"--epochs must be from 1 to {MAX_EPOCHS}, not {args.epochs}")
    for flag, folder in (("--out", args.out), ("--runs", args.runs)):
        why = writable_folder(folder) if _env_int("RANK") == 0 else None  # only rank 0 writes (and probes)
        if why:
            parser.error(f"{flag} {folder} {why}")
    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        parser.error(f"--data-dir {args.data_dir} is not a folder (it must hold the four MNIST IDX files)")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    parser.quiet = _env_int("WORLD_SIZE", 1) > 1 and _env_int("LOCAL_RANK") != 0
    args = parser.parse_args(argv)
    check_args(parser, args)
    from core.atomic import clear_stale_tmp
    from core.errors import UserError
    from core.training import distributed as dd
    from core.training.common import TrainOptions, resolve_device

    names = ORDER if args.model == "all" else [args.model]
    rank = _env_int("RANK")
    who = f"rank {rank}: " if _env_int("WORLD_SIZE", 1) > 1 else ""
    try:
        device = resolve_device(args.device)  # fail before any work when CUDA is asked for and absent
        with dd.session(device) as world:  # torchrun: join the process group (nothing for a plain run)
            dd.agree("the command line", {k: getattr(args, k) for k in ("model", "epochs", "seed", "device",
                                                                        "export_only")})
            for name in names:
                if world.main:
                    clear_stale_tmp(Path(args.runs) / name)  # what a killed run's checkpoint or history writes left
                opts = TrainOptions(model=name, epochs=args.epochs, seed=args.seed, device=args.device,
                                    data_dir=args.data_dir, out=args.out, runs=args.runs,
                                    export_only=args.export_only, quiet=args.quiet)
                t0 = time.time()
                trainer = importlib.import_module(REGISTRY[name]).TRAINERS[name]
                metrics = trainer(opts)
                dd.wait_for_main()  # the other ranks wait here while rank 0 exports (the next model needs it)
                if world.main:
                    print(f"{name}: done in {time.time() - t0:.0f}s  "
                          + "  ".join(f"{k}={v}" for k, v in (metrics or {}).items()))
    except UserError as exc:
        print(f"error: {who}{exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\n{who}interrupted; checkpoints and history written so far are kept", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        if not (who and dd.peer_failure(exc)):  # only in a torchrun run, only a collective's failure
            raise
        # a collective failed: another rank died, hung past the timeout or left; its own message says why
        print(f"error: {who}lost the other ranks ({str(exc).splitlines()[0][:300]}); "
              "the first failing rank's message says why", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
