"""exported/manifest.json: every artifact with its sha256, size and the command that rebuilds it (no torch)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from core import EXPORTED
from core.atomic import atomic_write_json, sha256_file
from core.errors import UserError

MANIFEST = "manifest.json"
TRAINABLE = (
    "autoencoder", "autoencoder_2d", "conv_autoencoder", "gan", "classifier", "seq2seq_attention", "transformer",
    "dcgan", "fid_features",
)


def rebuild_command(name: str) -> str:
    """The command that rebuilds an artifact, from its file name (``gan.generator.onnx`` -> gan)."""
    stem = Path(name).name.split(".")[0]
    for model in sorted(TRAINABLE, key=len, reverse=True):
        if stem == model or stem.startswith(model + "_") or Path(name).parts[0] == model:
            return f"python -m core.train {model}"
    if "history" in Path(name).parts:
        return f"python -m core.train {stem}"
    return "python -m core.train all"


def write_manifest(out_dir: str | os.PathLike = EXPORTED) -> dict:
    """Rescan ``out_dir`` and rewrite its manifest; safe to call after every export."""
    out_dir = Path(out_dir)
    files = {}
    for p in sorted(out_dir.rglob("*")):
        if not p.is_file() or p.name == MANIFEST or p.name.startswith(".") or p.suffix == ".tmp":
            continue
        rel = p.relative_to(out_dir).as_posix()
        files[rel] = {"sha256": sha256_file(p), "bytes": p.stat().st_size, "rebuild": rebuild_command(rel)}
        if p.suffix == ".onnx":
            files[rel].update(onnx_summary(p))
    manifest = {"format": 1, "files": files}
    atomic_write_json(out_dir / MANIFEST, manifest)
    return manifest


def onnx_summary(path: Path) -> dict:
    """Opset and operator counts of an ONNX file, for the Models page (the dashboard itself has no `onnx`)."""
    try:
        import onnx
    except ImportError:
        return {}
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # a corrupt file is still listed; loading it later gives the clear error
        return {"onnx_error": exc.__class__.__name__}
    ops: dict[str, int] = {}
    for node in model.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    return {"opset": opset, "ir_version": model.ir_version, "ops": dict(sorted(ops.items()))}


def read_manifest(out_dir: str | os.PathLike = EXPORTED) -> dict:
    path = Path(out_dir) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"format": 1, "files": {}}
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path} is unreadable ({exc}); rebuild it with: python -m core.train all") from exc


class ArtifactError(UserError):
    """A missing or corrupt artifact; the message is fit to show a person and names the rebuild command."""


def check_artifact(name: str, out_dir: str | os.PathLike = EXPORTED, manifest: dict | None = None) -> Path:
    """Path of an artifact that exists and matches the manifest's sha256, else ArtifactError."""
    out_dir = Path(out_dir)
    path = out_dir / name
    manifest = read_manifest(out_dir) if manifest is None else manifest
    entry = manifest.get("files", {}).get(name)
    cmd = entry["rebuild"] if entry else rebuild_command(name)
    if not path.is_file():
        raise ArtifactError(f"Model file `{path.name}` is missing from {out_dir}. Rebuild it with: `{cmd}`")
    if entry is None:
        raise ArtifactError(f"`{name}` is not listed in {out_dir / MANIFEST}. Rebuild it with: `{cmd}`")
    actual = sha256_file(path)
    if actual != entry["sha256"]:
        raise ArtifactError(
            f"`{name}` is corrupt or was changed: its sha256 is {actual[:12]}…, the manifest says "
            f"{entry['sha256'][:12]}…. Rebuild it with: `{cmd}`"
        )
    return path
