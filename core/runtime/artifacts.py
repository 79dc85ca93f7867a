"""Loaders for the remaining artifacts the dashboard reads (parity references, date examples), verified against the
manifest and checked by schema like the rest (core.runtime.contracts); only ArtifactError escapes."""

from __future__ import annotations

import os

from core import EXPORTED
from core.manifest import ArtifactError, excerpt, read_artifact
from core.runtime.contracts import parse_json, parse_npz, validate_json, validate_npz


def reference_name(onnx_name: str) -> str:
    """``gan.generator.onnx`` -> ``reference/gan.generator.npz``."""
    if not isinstance(onnx_name, str) or not onnx_name.endswith(".onnx") or "/" in onnx_name:
        shown = excerpt(onnx_name)
        raise ArtifactError(f"{shown} is not a model file name.", key="errors.artifact.not_a_model_name", name=shown)
    return f"reference/{onnx_name[: -len('.onnx')]}.npz"


def load_reference(onnx_name: str, exported_dir: str | os.PathLike = EXPORTED) -> tuple[dict, dict]:
    """({input: array}, {output: array}) stored at export time for the parity check of ``onnx_name``."""
    name = reference_name(onnx_name)
    arrays = validate_npz(name, parse_npz(name, read_artifact(name, exported_dir)))
    ins = {k[len("in__"):]: v for k, v in arrays.items() if k.startswith("in__")}
    outs = {k[len("out__"):]: v for k, v in arrays.items() if k.startswith("out__")}
    return ins, outs


def load_dates_examples(exported_dir: str | os.PathLike = EXPORTED) -> list[dict]:
    """[{source, target, format, case}, ...]: test-split dates, one per format, for the date pages' presets."""
    name = "dates_examples.json"
    return validate_json(name, parse_json(name, read_artifact(name, exported_dir)))["examples"]


__all__ = ["load_dates_examples", "load_reference", "reference_name"]
