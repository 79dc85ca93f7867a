"""Export a PyTorch module to one self-contained ONNX file, stamp its model card, and prove ORT matches PyTorch.

Pattern from huggingface/optimum: export, then validate against PyTorch on fresh inputs within a tolerance.
Pitfalls handled here (torch 2.13): the dynamo exporter writes a separate ``.data`` file unless
``external_data=False``; an example whose dynamic axis has size 1 silently fixes that axis (so we export with
size >= 2 and check other sizes); every node carries ``pkg.torch.onnx.*`` metadata with local paths (stripped).
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from datetime import date
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import onnx
import torch

from core.atomic import atomic_save_npz, atomic_write_bytes
from core.manifest import write_manifest

OPSET = 18
TOLERANCE = 1e-4


class ExportError(RuntimeError):
    pass


def versions() -> dict:
    import onnxruntime

    return {
        "python": platform.python_version(), "torch": torch.__version__, "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__, "numpy": np.__version__,
    }


def n_params(module: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in module.parameters()))


def base_card(name: str, module: torch.nn.Module, config, **extra) -> dict:
    """The fields every model card has; callers add data, metrics, preprocessing, differences_from_source."""
    from dataclasses import asdict, is_dataclass

    card = {
        "name": name,
        "architecture": module.__class__.__name__,
        "config": asdict(config) if is_dataclass(config) else dict(config or {}),
        "parameters": n_params(module),
        "versions": versions(),
        "exported": date.today().isoformat(),
    }
    card.update(extra)
    return card


def _strip_node_metadata(model: onnx.ModelProto) -> None:
    def strip(graph: onnx.GraphProto) -> None:
        for node in graph.node:
            del node.metadata_props[:]
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    strip(attr.g)
                for g in attr.graphs:
                    strip(g)
        del graph.metadata_props[:]

    strip(model.graph)
    for fn in model.functions:
        for node in fn.node:
            del node.metadata_props[:]
    del model.metadata_props[:]


def set_metadata(model: onnx.ModelProto, card: dict) -> None:
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = "model_card", json.dumps(card, ensure_ascii=False, default=_json_default)
    model.producer_name = "big-model-lab"
    model.doc_string = f"{card.get('name', '')}: {card.get('summary', card.get('architecture', ''))}"


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, (Path,)):
        return str(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o)}")


def export_onnx(
    module: torch.nn.Module,
    example_inputs: tuple,
    path: str | os.PathLike,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_shapes,
    card: dict,
    dynamo: bool = True,
    dynamic_axes: dict | None = None,
) -> Path:
    """Export ``module`` to a single ONNX file at ``path`` (atomically) with ``card`` in its metadata.

    ``dynamic_shapes`` is for ``dynamo=True`` (torch.export.Dim per input), ``dynamic_axes`` for ``dynamo=False``.
    Every dynamic axis in ``example_inputs`` must have size >= 2.
    """
    path = Path(path)
    module = module.eval()
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "model.onnx"
        with torch.no_grad():
            if dynamo:
                prog = torch.onnx.export(
                    module, example_inputs, dynamo=True, external_data=False, opset_version=OPSET,
                    input_names=list(input_names), output_names=list(output_names),
                    dynamic_shapes=dynamic_shapes, optimize=True, verbose=False,
                )
                prog.save(str(raw), external_data=False)
            else:
                torch.onnx.export(
                    module, example_inputs, str(raw), dynamo=False, opset_version=OPSET,
                    input_names=list(input_names), output_names=list(output_names),
                    dynamic_axes=dynamic_axes or {}, do_constant_folding=True,
                )
        model = onnx.load(str(raw), load_external_data=True)
    _strip_node_metadata(model)
    card = dict(card)
    card.setdefault("opset", OPSET)
    card.setdefault("exporter", "torch.onnx.export(dynamo=True)" if dynamo else "torch.onnx.export(dynamo=False)")
    card.setdefault("inputs", list(input_names))
    card.setdefault("outputs", list(output_names))
    set_metadata(model, card)
    onnx.checker.check_model(model, full_check=True)
    atomic_write_bytes(path, model.SerializeToString())
    return path


def stamp_card(path: str | os.PathLike, updates: dict) -> dict:
    """Merge ``updates`` into the model card of an exported file (e.g. metrics measured after export)."""
    model = onnx.load(str(path))
    raw = {p.key: p.value for p in model.metadata_props}.get("model_card", "{}")
    card = json.loads(raw)
    card.update(updates)
    set_metadata(model, card)
    atomic_write_bytes(path, model.SerializeToString())
    return card


def validate_onnx(
    path: str | os.PathLike,
    torch_fn: Callable[..., object],
    make_inputs: Callable[[int], tuple],
    input_names: Sequence[str],
    sizes: Sequence[int] = (3, 7),
    atol: float = TOLERANCE,
) -> float:
    """Run ORT and PyTorch on fresh inputs at each size in ``sizes``; raise ExportError past ``atol``.

    ``make_inputs(n)`` returns a tuple of torch tensors for a batch (or length) of ``n``; ``torch_fn`` returns a
    tensor or a tuple of tensors in the ONNX output order. Returns the largest abs difference seen.
    """
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for n in sizes:
        inputs = make_inputs(n)
        with torch.no_grad():
            expected = torch_fn(*inputs)
        if isinstance(expected, torch.Tensor):
            expected = (expected,)
        feeds = {name: t.detach().cpu().numpy() for name, t in zip(input_names, inputs)}
        got = sess.run(None, feeds)
        if len(got) != len(expected):
            raise ExportError(f"{Path(path).name}: ORT gave {len(got)} outputs, PyTorch {len(expected)}")
        for i, (g, e) in enumerate(zip(got, expected)):
            e = e.detach().cpu().numpy()
            if g.shape != e.shape:
                raise ExportError(f"{Path(path).name}: output {i} shape {g.shape} from ORT, {e.shape} from PyTorch (size {n})")
            if e.dtype.kind == "f":
                diff = float(np.max(np.abs(g.astype(np.float64) - e.astype(np.float64)))) if e.size else 0.0
            else:
                diff = float(np.max(np.abs(g.astype(np.int64) - e.astype(np.int64)))) if e.size else 0.0
            worst = max(worst, diff)
            if not diff <= atol:
                raise ExportError(f"{Path(path).name}: output {i} differs from PyTorch by {diff:.3g} > {atol} (size {n})")
    return worst


def save_reference(path: str | os.PathLike, inputs: dict[str, np.ndarray], outputs: dict[str, np.ndarray]) -> Path:
    """Store inputs and PyTorch outputs beside a model, for a later parity check with ORT alone (no torch)."""
    arrays = {f"in__{k}": v for k, v in inputs.items()} | {f"out__{k}": v for k, v in outputs.items()}
    return atomic_save_npz(path, **arrays)


def finish(out_dir: str | os.PathLike) -> dict:
    """Rewrite the manifest of a folder written outside a transaction (tests, scratch exports). Trainers do not call
    it: core.transaction.export_transaction writes the manifest of the new set when it commits."""
    return write_manifest(out_dir)
