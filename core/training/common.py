"""What every training run shares: options, seeding, device choice, progress bar, history file, checkpoints."""

from __future__ import annotations

import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core import EXPORTED, RUNS
from core.atomic import atomic_write_bytes, atomic_write_json
from core.errors import UserError


class TrainError(UserError):
    """A problem the CLI reports as one clear line (no traceback)."""


@dataclass(frozen=True)
class TrainOptions:
    model: str
    epochs: int | None = None  # None: the model's default
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    data_dir: Path | None = None  # MNIST folder; None: $MNIST_DIR, then the download cache
    out: Path = EXPORTED  # ONNX files, model cards, histories
    runs: Path = RUNS  # checkpoints (never committed)
    export_only: bool = False  # re-export from the last checkpoint without training
    quiet: bool = False  # no progress bar (tests)


def set_seed(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    name = name.lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise TrainError("--device cuda was asked for, but PyTorch sees no CUDA device here; use --device cpu or auto")
        return torch.device("cuda")
    if name == "cpu":
        return torch.device("cpu")
    raise TrainError(f"unknown --device {name!r}; choose auto, cpu or cuda")


def progress(iterable, desc: str, total: int | None = None, quiet: bool = False):
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, disable=quiet, file=sys.stderr, leave=False, dynamic_ncols=True)


@dataclass
class History:
    """Per-epoch metrics, rewritten atomically after each epoch so a killed run keeps what it measured."""

    path: Path
    meta: dict = field(default_factory=dict)
    epochs: list[dict] = field(default_factory=list)
    _t0: float = field(default_factory=time.time)

    def log(self, **metrics) -> dict:
        row = {"epoch": len(self.epochs) + 1, **{k: _plain(v) for k, v in metrics.items()},
               "elapsed_s": round(time.time() - self._t0, 2)}
        self.epochs.append(row)
        self.save()
        return row

    def save(self) -> None:
        atomic_write_json(self.path, {**self.meta, "epochs": self.epochs})


def _plain(v):
    if isinstance(v, torch.Tensor):
        v = v.item()
    if isinstance(v, (np.floating, np.integer)):
        v = v.item()
    if isinstance(v, float):
        return round(v, 6) if math.isfinite(v) else None  # JSON has no NaN; a diverged metric is "no value"
    return v


def run_history(opts: TrainOptions, model: str) -> Path:
    """Where a run logs its per-epoch history: runs/<model>/history.json (copied into the export at commit, so a
    killed training run never touches the exported set)."""
    return Path(opts.runs) / model / "history.json"


def stage_run_files(stage: Path, opts: TrainOptions, model: str, extra: dict[str, str] | None = None) -> None:
    """Copy this model's run files into an export stage: runs/<model>/history.json -> history/<model>.json, and
    ``extra`` {run file: exported name}. A file the run does not have (--export-only from an older run) keeps the
    stage's copy, i.e. what was exported before."""
    files = {"history.json": f"history/{model}.json", **(extra or {})}
    for src, dst in files.items():
        path = Path(opts.runs) / model / src
        if path.is_file():
            atomic_write_bytes(Path(stage) / dst, path.read_bytes())


def save_checkpoint(path: str | os.PathLike, **state) -> Path:
    import io

    buf = io.BytesIO()
    torch.save(state, buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise TrainError(f"no checkpoint at {path}; train first (python -m core.train ...)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise TrainError(f"checkpoint {path} is unreadable ({exc.__class__.__name__}); retrain to rebuild it") from exc


def cpu_threads() -> int:
    return max(1, min(os.cpu_count() or 1, 8))
