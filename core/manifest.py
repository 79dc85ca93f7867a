"""exported/manifest.json: every artifact with its sha256, size and the command that rebuilds it (no torch)."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from core import EXPORTED
from core.atomic import atomic_write_json, sha256_bytes, sha256_file
from core.errors import UserError

MANIFEST = "manifest.json"
TRAINABLE = (
    "autoencoder", "autoencoder_2d", "conv_autoencoder", "gan", "classifier", "seq2seq_attention", "transformer",
    "dcgan", "fid_features",
)
# Artifacts not made by training: the pretrained MiniLM's weightless graph (+ its reference) and its head table.
PRETRAINED = {"minilm": "python -m core.pretrained.export", "minilm_heads": "python -m core.pretrained.heads"}


def rebuild_command(name: str) -> str:
    """The command that rebuilds an artifact, from its file name (``gan.generator.onnx`` -> gan)."""
    stem = Path(name).name.split(".")[0]
    if stem in PRETRAINED:
        return PRETRAINED[stem]
    if Path(name).name.endswith(".int8.onnx"):  # built from the fp32 file by the quantiser, not by training
        return f"python -m core.quantize {stem}"
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


MAX_MANIFEST_BYTES = 4 << 20  # ~40 files take 10 kB; a bigger file is not ours
RETRY_S = 0.01  # a reader that catches the switch of a transactional export re-reads after this long, once
_HEX64 = re.compile(r"[0-9a-f]{64}")
_OPTIONAL = {"opset": int, "ir_version": int, "ops": dict, "onnx_error": str}


class ArtifactError(UserError):
    """A missing, corrupt or malformed artifact; the message is fit to show a person and names the rebuild command."""


def excerpt(value, limit: int = 40) -> str:
    """A short, quoted, single-line excerpt of a value for an error message (never the whole of a long input)."""
    text = value if isinstance(value, str) else type(value).__name__
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _kind(obj) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null", bool: "a boolean"}.get(
        type(obj), "a number" if isinstance(obj, (int, float)) else type(obj).__name__)


def safe_name(name) -> bool:
    """A relative posix path inside the folder: no '..', no absolute path, no backslash, no control characters."""
    if not isinstance(name, str) or not 0 < len(name) <= 200 or "\\" in name or name.startswith("/"):
        return False
    parts = name.split("/")
    return all(p not in ("", ".", "..") for p in parts) and all(ch.isprintable() for ch in name)


def entry_problem(entry) -> str | None:
    """Why a manifest entry is unusable, or None: sha256 (64 hex), bytes (int >= 0), rebuild (text), optional onnx."""
    if not isinstance(entry, dict):
        return f"its entry is {_kind(entry)}, not an object"
    sha = entry.get("sha256")
    if not isinstance(sha, str) or not _HEX64.fullmatch(sha):
        return "its sha256 is missing or not 64 hexadecimal digits"
    size = entry.get("bytes")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        return "its size (bytes) is missing or not a whole number >= 0"
    rebuild = entry.get("rebuild")
    if not isinstance(rebuild, str) or not rebuild.strip() or len(rebuild) > 200:
        return "its rebuild command is missing"
    for key, typ in _OPTIONAL.items():
        value = entry.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, typ)):
            return f"its {key} is {_kind(value)}"
    ops = entry.get("ops") or {}
    if not all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in ops.items()):
        return "its operator counts are malformed"
    return None


def validate_manifest(obj, where: str | os.PathLike = MANIFEST) -> dict:
    """A manifest checked by schema: ``{"format": 1, "files": {name: entry}}``.

    A malformed whole (not an object, no ``files`` object, another format) is an ArtifactError. A malformed entry
    only affects its own file: it is left out of ``files`` and its reason kept in ``problems`` (check_artifact
    reports it for that file alone, so the pages that do not use it keep working).
    """
    if not isinstance(obj, dict):
        raise _invalid(where, f"it is {_kind(obj)}, not an object")
    fmt = obj.get("format")
    if isinstance(fmt, bool) or fmt != 1:
        raise _invalid(where, f"format {excerpt(fmt) if isinstance(fmt, str) else fmt}, expected 1")
    files = obj.get("files")
    if not isinstance(files, dict):
        raise _invalid(where, f"\"files\" is {_kind(files)}, not an object of file name -> entry")
    good, problems = {}, {}
    for name, entry in files.items():
        if not safe_name(name):
            continue  # never a path we would open; nothing can ask for it by this name
        why = entry_problem(entry)
        if why is None:
            good[name] = entry
        else:
            problems[name] = why
    return {**obj, "files": good, "problems": problems}


def _invalid(where, why: str) -> ArtifactError:
    cmd = "python -m core.train all"
    return ArtifactError(f"{where} is not a valid manifest ({why}). Rebuild it with: {cmd}",
                         key="errors.artifact.manifest_invalid", where=where, why=why, cmd=cmd)


def read_manifest(out_dir: str | os.PathLike = EXPORTED) -> dict:
    """The manifest of ``out_dir``, checked by schema (validate_manifest); an empty one when there is none."""
    path = Path(out_dir) / MANIFEST
    cmd = "python -m core.train all"
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise ArtifactError(f"{path} is too large to be a manifest. Rebuild it with: {cmd}",
                                key="errors.artifact.manifest_too_large", path=path, cmd=cmd)
        raw = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return {"format": 1, "files": {}, "problems": {}}
    except (OSError, ValueError, RecursionError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc.__class__.__name__
        raise ArtifactError(f"{path} is unreadable ({why}); rebuild it with: {cmd}",
                            key="errors.artifact.unreadable", name=path, why=why, cmd=cmd) from exc
    return validate_manifest(raw, path)


def _entry(name: str, out_dir: Path, manifest: dict) -> tuple[dict | None, str]:
    files = manifest.get("files") if isinstance(manifest, dict) else None
    entry = files.get(name) if isinstance(files, dict) else None
    if entry is not None and entry_problem(entry) is not None:  # a caller's own, unvalidated manifest
        manifest = {"problems": {name: entry_problem(entry)}}
        entry = None
    cmd = entry["rebuild"] if entry else rebuild_command(name)
    problem = (manifest.get("problems") or {}).get(name) if isinstance(manifest, dict) else None
    if entry is None and problem:
        where = out_dir / MANIFEST
        raise ArtifactError(f"{name} has a malformed entry in {where} ({problem}). Rebuild it with: {cmd}",
                            key="errors.artifact.malformed_entry", name=name, where=where, problem=problem, cmd=cmd)
    return entry, cmd


def _verified(name: str, out_dir: Path, manifest: dict, read: bool) -> tuple[Path, bytes | None]:
    if not safe_name(name):
        shown = excerpt(name)
        raise ArtifactError(f"{shown} is not an artifact name.", key="errors.artifact.bad_name", name=shown)
    path = out_dir / name
    entry, cmd = _entry(name, out_dir, manifest)
    if not path.is_file():
        file = path.name
        raise ArtifactError(f"Model file {file} is missing from {out_dir}. Rebuild it with: {cmd}",
                            key="errors.artifact.missing", file=file, folder=out_dir, cmd=cmd)
    if entry is None:
        where = out_dir / MANIFEST
        raise ArtifactError(f"{name} is not listed in {where}. Rebuild it with: {cmd}",
                            key="errors.artifact.not_listed", name=name, where=where, cmd=cmd)
    try:
        size, expected = path.stat().st_size, entry["bytes"]
        if size != expected:  # cheap, and a huge stray file is never hashed or read
            raise ArtifactError(f"{name} is corrupt or was changed: it has {size} bytes, the manifest says "
                                f"{expected}. Rebuild it with: {cmd}", key="errors.artifact.size_changed",
                                name=name, size=size, expected=expected, cmd=cmd)
        actual = sha256_file(path)
        if actual == entry["sha256"] and read:
            data = path.read_bytes()
            if sha256_bytes(data) != actual:  # the file changed between the check and the read (a switch)
                actual = sha256_bytes(data)
        else:
            data = None
    except OSError as exc:
        why = exc.strerror or exc.__class__.__name__
        raise ArtifactError(f"{name} could not be read ({why}). Rebuild it with: {cmd}",
                            key="errors.artifact.read_failed", name=name, why=why, cmd=cmd) from exc
    if actual != entry["sha256"]:
        got, want = actual[:12], entry["sha256"][:12]
        raise ArtifactError(f"{name} is corrupt or was changed: its sha256 is {got}…, the manifest says {want}…. "
                            f"Rebuild it with: {cmd}", key="errors.artifact.sha_changed", name=name, got=got,
                            want=want, cmd=cmd)
    return path, data


def _with_retry(name: str, out_dir, manifest: dict | None, read: bool) -> tuple[Path, bytes | None]:
    out_dir = Path(out_dir)
    if manifest is not None:
        return _verified(name, out_dir, manifest, read)
    try:
        return _verified(name, out_dir, read_manifest(out_dir), read)
    except ArtifactError:
        # A transactional export may have switched the set between our reading the manifest and the file (or, on a
        # filesystem without RENAME_EXCHANGE, be between its two renames): look once more before calling it corrupt.
        time.sleep(RETRY_S)
        return _verified(name, out_dir, read_manifest(out_dir), read)


def check_artifact(name: str, out_dir: str | os.PathLike = EXPORTED, manifest: dict | None = None) -> Path:
    """Path of an artifact that exists and matches the manifest's size and sha256, else ArtifactError."""
    return _with_retry(name, out_dir, manifest, read=False)[0]


def read_artifact(name: str, out_dir: str | os.PathLike = EXPORTED, manifest: dict | None = None) -> bytes:
    """The bytes of an artifact, verified against the manifest: the file is checked as check_artifact does, then
    read, and the bytes read are hashed again, so what the caller gets is what was checked (no window between
    checking a file and opening it)."""
    return _with_retry(name, out_dir, manifest, read=True)[1]
