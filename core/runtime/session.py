"""ONNX Runtime sessions over the exported models: provider choice, honest fallback, model cards."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from core import EXPORTED
from core.manifest import ArtifactError, read_artifact, rebuild_command
from core.runtime.contracts import check_onnx

PROVIDER_CHOICES = ("auto", "cuda", "cpu")
_CUDA = "CUDAExecutionProvider"
_CPU = "CPUExecutionProvider"


class ModelError(ArtifactError):
    """A model that cannot be loaded or run; the message is fit to show a person."""


@dataclass
class LoadedModel:
    name: str
    path: Path
    session: ort.InferenceSession
    card: dict
    requested: str
    providers: list[str]
    note: str | None = None  # set when the session does not run where it was asked to
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    @property
    def on_cuda(self) -> bool:
        return bool(self.providers) and self.providers[0] == _CUDA

    def run(self, feeds: dict[str, np.ndarray], outputs: list[str] | None = None) -> dict[str, np.ndarray]:
        names = outputs or self.outputs
        try:
            values = self.session.run(names, feeds)
        except Exception as exc:  # ORT raises its own types for shape/type errors
            name, why = self.name, (str(exc).splitlines() or [exc.__class__.__name__])[0][:300]
            raise ModelError(f"{name}: onnxruntime could not run this input ({why})", key="errors.model.run_failed",
                             name=name, why=why) from exc
        return dict(zip(names, values))


def available_providers() -> list[str]:
    return list(ort.get_available_providers())


def provider_list(requested: str) -> tuple[list[str], str | None]:
    """The providers to ask ORT for, and a note when CUDA was asked for but this onnxruntime cannot give it."""
    requested = requested.lower()
    if requested not in PROVIDER_CHOICES:
        shown, choices = repr(requested[:40]), ", ".join(PROVIDER_CHOICES)
        raise ModelError(f"Unknown execution provider {shown}; choose one of {choices}",
                         key="errors.model.unknown_provider", shown=shown, choices=choices)
    have = available_providers()
    if requested == "cpu":
        return [_CPU], None
    if _CUDA in have:
        return [_CUDA, _CPU], None
    if requested == "cuda":
        return [_CPU], (
            "CUDA was requested, but this onnxruntime build has no CUDA provider "
            f"(available: {', '.join(have)}); running on CPU."
        )
    return [_CPU], None


def read_card(session: ort.InferenceSession) -> dict:
    try:  # metadata that is not UTF-8 raises UnicodeDecodeError on access
        raw = session.get_modelmeta().custom_metadata_map.get("model_card")
        card = json.loads(raw) if raw else {}
    except (ValueError, RecursionError):
        return {}
    return card if isinstance(card, dict) else {}


def open_session(path: str | os.PathLike, provider: str = "auto", threads: int | None = None,
                 data: bytes | None = None) -> LoadedModel:
    """Open any ONNX file (no manifest or contract check); ``data``: its bytes, already read and verified."""
    path = Path(path)
    providers, note = provider_list(provider)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # no arena: a shared host keeps dozens of small sessions, and an arena holds each one's peak for good
    # (measured: server RSS with every page visited 425 -> see README)
    opts.enable_cpu_mem_arena = False  # ORT's own CUDA fallback warning is replaced by `note`
    if threads:
        opts.intra_op_num_threads = threads
    try:
        sess = ort.InferenceSession(data if data is not None else str(path), sess_options=opts, providers=providers)
    except Exception as exc:
        name, why = path.name, str(exc).splitlines()[0][:200] if str(exc) else exc.__class__.__name__
        raise ModelError(f"{name} could not be loaded by onnxruntime ({why})", key="errors.model.ort_refused",
                         name=name, why=why) from exc
    used = sess.get_providers()
    if provider == "cuda" and note is None and (not used or used[0] != _CUDA):
        note = f"CUDA was requested, but onnxruntime fell back to {', '.join(used)}."
    try:
        inputs, outputs = [i.name for i in sess.get_inputs()], [o.name for o in sess.get_outputs()]
    except ValueError as exc:  # names that are not UTF-8 (a damaged file onnxruntime still parsed)
        name = path.name
        raise ModelError(f"{name} could not be loaded: its input or output names are unreadable",
                         key="errors.model.names_unreadable", name=name) from exc
    return LoadedModel(
        name=path.name, path=path, session=sess, card=read_card(sess), requested=provider, providers=used,
        note=note, inputs=inputs, outputs=outputs,
    )


def load_model(name: str, provider: str = "auto", exported_dir: str | os.PathLike = EXPORTED,
               verify: bool = True, threads: int | None = None) -> LoadedModel:
    """Open ``exported/<name>`` after checking it against the manifest (size, sha256), then its inputs, outputs and
    shapes against the dashboard's contract (core.runtime.contracts) and its own model card.

    ModelError (an ArtifactError) names the rebuild command. The bytes hashed are the bytes loaded, so a switch
    of the set between the check and the load cannot slip a different file in.
    """
    try:
        data = read_artifact(name, exported_dir) if verify else None
        loaded = open_session(Path(exported_dir) / name, provider, threads=threads, data=data)
        try:
            raw = loaded.session.get_modelmeta().custom_metadata_map.get("model_card")
        except ValueError:  # not UTF-8
            raw = "unreadable"
        if raw and not loaded.card:
            cmd = rebuild_command(name)
            raise ArtifactError(f"{name} has a model card that is not readable JSON. Rebuild it with: {cmd}",
                                key="errors.model.card_unreadable", name=name, cmd=cmd)
        check_onnx(name, loaded.session, loaded.card)
    except ModelError:
        raise
    except ArtifactError as exc:
        raise ModelError.like(exc) from exc
    return loaded
